"""The evolution of one entry's levels over its sheets: a line per key, drawn on the server
as SVG (templates/web/_evolution.html), with a table of the same levels for screen readers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..models import Evaluation, EvaluationKey
from ..models.vocab import LEVEL_MAX

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 40, 48, 16, 48
# Keys at one level would hide each other: each line is drawn a little above or below.
SPREAD = 2.5
# Colour-blind-safe (Okabe–Ito), one per key in order; the table carries the same data.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#8a6d00", "#56B4E9", "#000000")


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    colour: str
    dash: str
    points: list[tuple[float, float, int]]  # x, y, level (sheets without a level skipped)

    @property
    def path(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in self.points)


@dataclass(frozen=True)
class Evolution:
    sheets: list[Evaluation]  # oldest first
    columns: list[tuple[float, Evaluation]]  # x, the sheet
    series: list[Series]
    rows: list[tuple[str, list[int | None]]]  # key label, level per sheet
    view_box: str = f"0 0 {WIDTH} {HEIGHT}"
    max_level: int = LEVEL_MAX

    @property
    def grid(self) -> list[tuple[int, float]]:
        return [(level, _y(level)) for level in range(self.max_level + 1)]

    @property
    def plot(self) -> tuple[int, int, int, int]:
        return LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM


def _y(level: int) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - level / LEVEL_MAX)


def evolution(sheets: Sequence[Evaluation], keys: Sequence[EvaluationKey],
              locale: str) -> Evolution:
    """`sheets` in any order; drawn oldest first, one column per sheet."""
    ordered = sorted(sheets, key=lambda s: (s.held_on, s.created_at))
    span = WIDTH - LEFT - RIGHT
    step = span / max(len(ordered) - 1, 1)
    xs = [LEFT + (step * n if len(ordered) > 1 else span / 2) for n in range(len(ordered))]
    columns = list(zip(xs, ordered, strict=True))
    middle = (len(keys) - 1) / 2
    series, rows = [], []
    for n, key in enumerate(keys):
        levels = [(a.level if (a := s.answer(key.slug)) is not None else None) for s in ordered]
        rows.append((key.label(locale), levels))
        shift = (n - middle) * SPREAD
        points = [(x, _y(level) + shift, level) for x, level in zip(xs, levels, strict=True)
                  if level is not None]
        series.append(Series(key.slug, key.label(locale), COLOURS[n % len(COLOURS)],
                             "" if n < len(COLOURS) else "6 3", points))
    return Evolution(list(ordered), columns, series, rows)
