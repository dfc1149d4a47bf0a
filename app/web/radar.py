"""The hexagon (radar) chart of a sheet's levels, as geometry for a server-side SVG.

One axis per key, clockwise from the top; a level L of `max_level` sits at
L / max_level of the radius. A key without a level sits at the centre and is
marked as such (the table beside the chart says "not rated").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..models.vocab import LEVEL_MAX


@dataclass(frozen=True)
class Axis:
    key: str
    label: str
    level: int | None
    end: tuple[float, float]     # the axis' outer point (level max)
    point: tuple[float, float]   # this answer's point
    label_at: tuple[float, float]
    anchor: str                  # SVG text-anchor of the label


@dataclass(frozen=True)
class RadarChart:
    width: float
    height: float
    centre: tuple[float, float]
    radius: float
    max_level: int
    axes: list[Axis]
    rings: list[str]             # SVG points of each level's polygon, 1..max_level
    shape: str                   # SVG points of the answers' polygon

    @property
    def view_box(self) -> str:
        return f"0 0 {_n(self.width)} {_n(self.height)}"


def _n(value: float) -> str:
    """Short SVG numbers: two decimals at most, no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _points(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{_n(x)},{_n(y)}" for x, y in points)


def radar_chart(items: Sequence[tuple[str, str, int | None]], *, max_level: int = LEVEL_MAX,
                radius: float = 100, margin_x: float = 110, margin_y: float = 40) -> RadarChart:
    """Geometry for `items` = [(key, label, level or None), ...] in the sheet's order."""
    cx, cy = margin_x + radius, margin_y + radius
    count = max(len(items), 1)

    def at(index: int, fraction: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * index / count
        return (cx + radius * fraction * math.cos(angle), cy + radius * fraction * math.sin(angle))

    axes = []
    for i, (key, label, level) in enumerate(items):
        fraction = 0.0 if level is None else max(0, min(level, max_level)) / max_level
        lx, ly = at(i, 1.12)
        dx = lx - cx
        anchor = "middle" if abs(dx) < 1 else ("start" if dx > 0 else "end")
        ly += 4 if abs(dx) >= 1 else (-4 if ly < cy else 12)
        axes.append(Axis(key, label, level, at(i, 1.0), at(i, fraction), (lx, ly), anchor))
    rings = [_points([at(i, level / max_level) for i in range(count)])
             for level in range(1, max_level + 1)]
    return RadarChart(
        width=2 * (margin_x + radius), height=2 * (margin_y + radius), centre=(cx, cy),
        radius=radius, max_level=max_level, axes=axes, rings=rings,
        shape=_points([a.point for a in axes]))
