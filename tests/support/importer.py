"""Helpers of the importer tests: run the pipeline, read what it wrote."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.config import PROJECT_ROOT
from app.extensions import db
from app.models import Entry, ImportRun, Revision, Source
from importers.pipeline import Pipeline, RunOptions, RunResult

ROOT = PROJECT_ROOT
DATA = ROOT / "tests" / "data"


def run_import(mapping: Any, items: Iterable[Any], **options: Any) -> RunResult:
    return Pipeline(mapping, RunOptions(**options)).run(items)


def entries_of(origin: str) -> dict[str, Entry]:
    """Live entries with a source of `origin`, by external id."""
    rows = db.session.execute(
        select(Source.external_id, Entry).join(Entry, Entry.id == Source.entry_id)
        .where(Source.origin == origin, Entry.deleted_at.is_(None))).all()
    return {external_id: entry for external_id, entry in rows}


def table_counts() -> dict[str, int]:
    """Rows of what an import writes (entries, sources, revisions)."""
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Entry, Source, Revision)}


def runs() -> list[ImportRun]:
    return list(db.session.scalars(select(ImportRun).order_by(ImportRun.id)))


def items_of(report: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [item for item in report if item["kind"] == kind]


MAPPING = DATA / "mappings" / "tiers-lieux-test.toml"
HEADER = ["Identifiant", "Type", "Nom", "Adresse", "Code postal", "Ville", "Latitude",
          "Longitude", "Site", "Étiquettes"]


def write_csv(path: Path, rows: list[list[str]], *, delimiter: str = ",",
              encoding: str = "utf-8", header: list[str] = HEADER) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def cut_csv(tmp_path: Path) -> Path:
    """Five good rows, then a file that ends inside a quoted field (from line 7)."""
    good = [[f"c-{i}", "Commun", f"Commun n°{i}", "", "", "", "", "", "", ""]
            for i in range(5)]
    path = write_csv(tmp_path / "cut.csv", good)
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write('c-9,Commun,"Un nom coupé\npar la fin du fichier')
    return path


def with_comma(value: float) -> str:
    return f"{value:.6f}".replace(".", ",")


def grid_rows(count: int, prefix: str):
    """Invented rows on a 100 m grid over the Lille area: no two are twins."""
    side = math.isqrt(count) + 1
    for i in range(count):
        lat = 50.50 + (i // side) * 0.0009
        lon = 2.80 + (i % side) * 0.0014
        yield [f"{prefix}-{i}", "Tiers-lieu", f"Lieu {prefix} {i}", f"{i} rue du Test",
               "59000", "Lille", with_comma(lat), with_comma(lon), "", "coworking"]
