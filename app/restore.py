"""`flask import dump FILE`: read back our own exports, so that a dump restores an instance.

A restore of our own data, not an import of a foreign source: it lives beside
`app/backup.py` (the whole database) rather than among the importers.

The three exports that hold entries whole are read: the Frictionless data package
(a .zip, or its datapackage.json: entries, tags, relations, evaluation sheets and
answers, sources), the CSV export and the GeoJSON export. Unlike a foreign source,
a dump is matched by UUID, not by source key and twin detection: each entry comes
back with its id, its fields, its links (CSV and data package; GeoJSON holds none),
its creation and update times, and, from a data package, its sheets (with their
ids) and its sources with their licences. From a CSV or GeoJSON file, which do not
list source keys, each entry records the source `dump:<file name>` with the
licence the file names, so that the licence follows the data.

Entries are written a thousand at a time through the write service's batch path
(`create_entries`: the same validation, a revision each, one COPY per table), with
their own creation and update times; what it would refuse (the entry schema, an
unknown tag, a slug or a source key another entry holds) is refused row by row first,
each with its row. Links come in a second pass, once every entry of the file exists
(a link may point further down the file): checked as the write service checks them,
written with one COPY per batch, each linked entry getting its version 2 and its
revision as a single edit would. An entry whose id exists already is left as it is:
unchanged when equal, reported as a conflict otherwise, so a second run changes
nothing. The run is one transaction (`--dry-run` rolls it back) and is recorded as an
import run with its counts and report. The file is read in passes (entries, then
links) rather than held in memory; only the ids of the restored entries (and a data
package's source keys) are.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any

import ijson
from sqlalchemy import select, text
from sqlalchemy.orm import selectinload

from app import entry_fields
from app.extensions import db
from app.formats.csv_cells import unescape_cell
from app.formats.public import PUBLIC_FIELDS
from app.models import Entry, EvaluationKey, Tag
from app.models.vocab import RELATION_TYPES
from app.services.copy import copy_line, copy_lines
from app.services.entries import SOURCE_COLUMNS, NewEntry, create_entries, new_entry
from app.services.errors import WriteValidationError
from app.services.evaluations import save_evaluation
from app.services.revisions import Author
from app.services.runs import Ledger, OnLedger, Problem, RunResult
from app.services.tags import ensure_tags

from .sync import content as C

# What a restore writes: the fields sync writes (app/entry_fields.py), the position, the tags.
INPUT_FIELDS = (*C.SCALARS, "lon", "lat", "tags")
RELATION_RE = re.compile(r"^([a-z_]+):([0-9a-fA-F-]{36})$")
BATCH = 1_000
# As the importer's pipeline does: its small, many queries are not worth compiling, and
# the planner needs statistics that count the rows this transaction wrote (an empty
# instance's tables look empty to it until then: it would scan where it should probe).
NO_JIT = text("SET LOCAL jit = off")
ANALYZE_SQL = text("ANALYZE entries, sources, revisions")
TAKEN_SLUGS_SQL = text("SELECT slug FROM entries WHERE slug = ANY(CAST(:slugs AS text[]))")
HELD_SOURCES_SQL = text("""
SELECT s.origin, s.external_id FROM sources s
JOIN unnest(CAST(:origins AS text[]), CAST(:keys AS text[])) AS k(origin, external_id)
  ON s.origin = k.origin AND s.external_id = k.external_id
""")
# Version 2 of entries whose links were restored: version 1's snapshot with its links,
# sorted as save_entry sorts them (type, then target; byte order).
LINKS_REVISION_SQL = text("""
INSERT INTO revisions (entity_type, entity_id, version, action, author_id, author_label,
                       comment, created_at, snapshot)
SELECT 'entry', r.entity_id, r.version + 1, 'update', NULL, :label, :comment, now(),
       jsonb_set(r.snapshot, '{relations}', l.links)
FROM revisions r
JOIN (SELECT source_id, jsonb_agg(jsonb_build_object('type', type,
                                                     'target', CAST(target_id AS text))
                                  ORDER BY type COLLATE "C",
                                           CAST(target_id AS text) COLLATE "C") AS links
      FROM relations WHERE source_id = ANY(CAST(:ids AS uuid[])) GROUP BY source_id) l
  ON l.source_id = r.entity_id
WHERE r.entity_type = 'entry' AND r.version = 1 AND r.entity_id = ANY(CAST(:ids AS uuid[]))
""")
LINKS_VERSION_SQL = text(
    "UPDATE entries SET version = version + 1 WHERE id = ANY(CAST(:ids AS uuid[]))")
SHEET_TIMES_SQL = text("""
UPDATE evaluations SET created_at = :created, updated_at = :updated WHERE id = :id
""")


class DumpError(ValueError):
    """The file is not one of our exports; the message says what was expected."""


@dataclass
class DumpEntry:
    id: uuid.UUID
    data: dict[str, Any]
    relations: list[dict[str, str]] | None  # None: the format holds no links
    created_at: datetime | None
    updated_at: datetime | None
    sources: list[tuple[str, str, str | None]]
    row: int


# -- reading the three formats -----------------------------------------------------------------

def level_definitions(raw: str | None) -> dict[str, list[str]]:
    """A key's level definitions as a dump writes them (JSON text; absent in dumps made
    before migration 0018): the languages with five texts each, the rest left out."""
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {lang: [str(t) for t in texts] for lang, texts in value.items()
            if lang in ("fr", "en") and isinstance(texts, list) and len(texts) == 5}


def _none(value: str | None) -> str | None:
    return value if value not in (None, "") else None


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _number(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def entry_from_cells(cells: dict[str, str | None], row: int) -> DumpEntry:
    """A row of our CSV (entries.csv): the public fields, lists joined with ';'."""
    try:
        entry_id = uuid.UUID(cells.get("id") or "")
    except ValueError:
        raise DumpError(f"row {row}: id {cells.get('id')!r} is not a UUID") from None
    data: dict[str, Any] = {name: _none(cells.get(name)) for name in INPUT_FIELDS}
    try:
        for f in entry_fields.FIELDS:
            if f.name in data:
                data[f.name] = f.from_cell(data[f.name])
        data["lon"], data["lat"] = _number(data["lon"]), _number(data["lat"])
    except ValueError as exc:
        raise DumpError(f"row {row}: {exc}") from None
    data["tags"] = [t for t in (cells.get("tags") or "").split(";") if t]
    relations = None
    if "relations" in cells:
        relations = []
        for item in (cells.get("relations") or "").split(";"):
            if not item:
                continue
            match = RELATION_RE.match(item)
            if match is None:
                raise DumpError(f"row {row}: relations: {item!r} is not <type>:<uuid>")
            relations.append({"type": match.group(1), "target": match.group(2).lower()})
    return DumpEntry(entry_id, data, relations, _time(cells.get("created_at")),
                     _time(cells.get("updated_at")), [], row)


def _csv_rows(handle: IO[str], required: tuple[str, ...], where: str
              ) -> Iterator[tuple[int, dict[str, str | None]]]:
    reader = csv.DictReader(handle)
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise DumpError(f"{where}: the header lacks {', '.join(missing)}: not an export of "
                        "the Atlas des communs")
    for number, row in enumerate(reader, start=2):
        yield number, {k: unescape_cell(v) for k, v in row.items()}


class CsvDump:
    """Our CSV export: one row per entry; the `data_licence` column follows the data."""

    kind = "csv"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.origin = f"dump:{path.stem}"[:80]
        with self._open() as handle:
            next(_csv_rows(handle, PUBLIC_FIELDS, str(path)), None)

    @contextmanager
    def _open(self) -> Iterator[IO[str]]:
        with self.path.open(encoding="utf-8-sig", newline="") as handle:
            yield handle

    def tags(self) -> list[dict[str, str]]:
        return []

    def keys(self) -> list[dict[str, str]]:
        return []

    def entries(self) -> Iterator[DumpEntry]:
        with self._open() as handle:
            for number, cells in _csv_rows(handle, PUBLIC_FIELDS, str(self.path)):
                entry = entry_from_cells(cells, number)
                entry.sources = [(self.origin, str(entry.id), _none(cells.get("data_licence")))]
                yield entry

    def relations(self) -> Iterator[tuple[uuid.UUID, list[dict[str, str]]]]:
        for entry in self.entries():
            if entry.relations:
                yield entry.id, entry.relations

    def sheets(self) -> Iterator[tuple[dict[str, Any], int]]:
        return iter(())


class GeoJsonDump:
    """Our GeoJSON export: the features' properties are the public fields; no links."""

    kind = "geojson"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.origin = f"dump:{path.stem}"[:80]
        with path.open("rb") as handle:
            try:
                licence = next(ijson.items(handle, "license.name"), None)
            except ijson.JSONError as exc:
                raise DumpError(f"{path}: not JSON ({exc})") from None
        self.licence = licence
        with path.open("rb") as handle:
            kind = next(ijson.items(handle, "type"), None)
        if kind != "FeatureCollection":
            raise DumpError(f"{path}: not a GeoJSON FeatureCollection")

    def tags(self) -> list[dict[str, str]]:
        return []

    def keys(self) -> list[dict[str, str]]:
        return []

    def entries(self) -> Iterator[DumpEntry]:
        with self.path.open("rb") as handle:
            for number, feature in enumerate(ijson.items(handle, "features.item",
                                                         use_float=True), start=1):
                properties = dict(feature.get("properties") or {})
                geometry = feature.get("geometry") or {}
                lon, lat = (geometry.get("coordinates") or [None, None])[:2]
                cells = {name: properties.get(name) for name in PUBLIC_FIELDS}
                cells.update(id=feature.get("id"), lon=lon, lat=lat)
                try:
                    entry_id = uuid.UUID(str(cells["id"]))
                except ValueError:
                    raise DumpError(f"feature {number}: id {cells['id']!r} is not a UUID") \
                        from None
                data = {name: cells.get(name) for name in INPUT_FIELDS}
                data["tags"] = list(cells.get("tags") or [])
                yield DumpEntry(entry_id, data, None, _time(cells.get("created_at")),
                                _time(cells.get("updated_at")),
                                [(self.origin, str(entry_id), self.licence)], number)

    def relations(self) -> Iterator[tuple[uuid.UUID, list[dict[str, str]]]]:
        return iter(())

    def sheets(self) -> Iterator[tuple[dict[str, Any], int]]:
        return iter(())


class PackageDump:
    """Our Frictionless data package, zipped or as a datapackage.json beside its CSVs."""

    kind = "datapackage"
    RESOURCES = ("entries", "tags", "relations", "evaluation-keys", "evaluations", "answers",
                 "sources")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zipped = zipfile.is_zipfile(path)
        descriptor = json.loads(self._read("datapackage.json"))
        paths = {r.get("name"): r.get("path") for r in descriptor.get("resources", [])}
        missing = [name for name in self.RESOURCES if name not in paths]
        if missing:
            raise DumpError(f"{path}: the data package lacks the resource(s) "
                            f"{', '.join(missing)}: not an export of the Atlas des communs")
        self.paths = paths

    def _read(self, name: str) -> bytes:
        if self.zipped:
            with zipfile.ZipFile(self.path) as archive:
                try:
                    return archive.read(name)
                except KeyError:
                    raise DumpError(f"{self.path}: no {name} in the zip") from None
        base = self.path.parent if self.path.name.endswith(".json") else self.path
        return (base / name).read_bytes()

    @contextmanager
    def open(self, resource: str) -> Iterator[IO[str]]:
        name = self.paths[resource]
        if not re.match(r"^[\w.-]+$", name):  # a member of the package, never elsewhere
            raise DumpError(f"{self.path}: resource path {name!r} is not a plain file name")
        if self.zipped:
            with zipfile.ZipFile(self.path) as archive, archive.open(name) as raw:
                yield io.TextIOWrapper(raw, encoding="utf-8", newline="")
        else:
            base = self.path.parent if self.path.name.endswith(".json") else self.path
            with (base / name).open(encoding="utf-8", newline="") as handle:
                yield handle

    def _rows(self, resource: str, required: tuple[str, ...]
              ) -> Iterator[tuple[int, dict[str, str | None]]]:
        with self.open(resource) as handle:
            yield from _csv_rows(handle, required, f"{self.path}:{self.paths[resource]}")

    def tags(self) -> list[dict[str, str]]:
        return [{k: row[k] for k in ("slug", "label_fr", "label_en", "group")}
                for _, row in self._rows("tags", ("slug", "label_fr", "label_en", "group"))]

    def keys(self) -> list[dict[str, str]]:
        columns = ("slug", "position", "label_fr", "label_en", "question_fr", "question_en")
        return [dict(row) for _, row in self._rows("evaluation-keys", columns)]

    def entries(self) -> Iterator[DumpEntry]:
        """Entries, each with its sources (sources.csv is read first, into an index)."""
        sources: dict[str, list[tuple[str, str, str | None]]] = {}
        for _, row in self._rows("sources", ("entry_id", "origin", "external_id", "licence")):
            sources.setdefault(row["entry_id"], []).append(
                (row["origin"], row["external_id"], _none(row["licence"])))
        for number, cells in self._rows("entries", PUBLIC_FIELDS):
            entry = entry_from_cells(cells, number)
            entry.relations = None  # relations.csv is the table of links
            entry.sources = sources.get(str(entry.id), [])
            yield entry

    def relations(self) -> Iterator[tuple[uuid.UUID, list[dict[str, str]]]]:
        current, links = None, []
        for _, row in self._rows("relations", ("source_id", "type", "target_id")):
            source = uuid.UUID(row["source_id"])
            if source != current and current is not None:
                yield current, links
                links = []
            current = source
            links.append({"type": row["type"], "target": row["target_id"].lower()})
        if current is not None:
            yield current, links

    def sheets(self) -> Iterator[tuple[dict[str, Any], int]]:
        answers: dict[str, dict[str, dict[str, Any]]] = {}
        for _, row in self._rows("answers", ("evaluation_id", "key", "level", "strengths",
                                             "limits", "stakes")):
            answers.setdefault(row["evaluation_id"], {})[row["key"]] = {
                "level": int(row["level"]) if row["level"] else None,
                **{k: _none(row[k]) for k in ("strengths", "limits", "stakes")}}
        for number, row in self._rows("evaluations", ("id", "entry_id", "title", "held_on",
                                                      "authors", "created_at",
                                                      "updated_at")):
            yield {**row, "answers": answers.get(row["id"], {})}, number


def open_dump(path: Path) -> CsvDump | GeoJsonDump | PackageDump:
    """The reader for `path`, by what it holds (zip or datapackage.json, CSV, GeoJSON)."""
    name = path.name.lower()
    if zipfile.is_zipfile(path) or name.endswith("datapackage.json") or path.is_dir():
        return PackageDump(path)
    if name.endswith(".csv"):
        return CsvDump(path)
    if name.endswith((".geojson", ".json")):
        return GeoJsonDump(path)
    raise DumpError(f"{path}: expected a data package (.zip or datapackage.json), a .csv or "
                    "a .geojson export")


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """`items` in lists of `size`, read as they come (the file is never held whole)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


# -- restoring ---------------------------------------------------------------------------------

class Restore(OnLedger):
    COUNTS = ("created", "updated", "unchanged", "conflicts", "rejected", "skipped",
              "warnings")

    def __init__(self, dump: CsvDump | GeoJsonDump | PackageDump, *,
                 dry_run: bool = False) -> None:
        self.dump = dump
        self.dry_run = dry_run
        self.origin = f"dump:{dump.path.name}"[:80]
        self.author = Author(label=f"import dump {dump.kind}")
        self.ledger = Ledger(self.origin, self.COUNTS, location=str(dump.path),
                             author_label=self.author.label, dry_run=dry_run)
        self.restored: set[uuid.UUID] = set()
        self.tags_created: list[str] = []
        self._tags: set[str] | None = None
        self._rejected: list[Problem] = []


    def run(self) -> RunResult:
        self.ledger.started_at = datetime.now(UTC)
        try:
            tags = ensure_tags(self.dump.tags())
            self.tags_created = tags.created
            for slug, reason in tags.refused:  # its entries are then rejected: unknown tag
                self.note(Problem("warning", f"tag {slug!r} not created: {reason}",
                                  field="tags"))
            self._keys()
            db.session.execute(NO_JIT)
            for number, batch in enumerate(batched(self.dump.entries(), BATCH)):
                self._entries(batch)
                if number == 0:  # the statistics with rows of this run in them
                    db.session.execute(ANALYZE_SQL)
            for links in batched(self.dump.relations(), BATCH):
                self._links(links)
            for sheet, number in self.dump.sheets():
                self._sheet(sheet, number)
            run = self.ledger.finish()
        except Exception as exc:
            self.ledger.fail(str(exc))
            raise
        return self.result(run)

    def _keys(self) -> None:
        known = set(db.session.scalars(select(EvaluationKey.slug)))
        for key in self.dump.keys():  # noqa: SIM118  (a method, not a dict)
            if key["slug"] not in known:
                db.session.add(EvaluationKey(
                    slug=key["slug"], position=int(key["position"]),
                    label_fr=key["label_fr"] or key["slug"], label_en=key["label_en"]
                    or key["slug"], question_fr=key["question_fr"] or "",
                    question_en=key["question_en"] or "",
                    level_definitions=level_definitions(key.get("level_definitions"))))
        db.session.flush()

    # -- entries, a batch at a time ------------------------------------------------------

    def _entries(self, batch: list[DumpEntry]) -> None:
        """Entries already here are compared; the others are checked, then created with
        create_entries (one COPY per table) and their sources (one more)."""
        existing = {e.id: e for e in db.session.scalars(
            select(Entry).where(Entry.id.in_([item.id for item in batch]))
            .options(selectinload(Entry.tags), selectinload(Entry.relations_out)))}
        fresh, ids = [], set()
        for item in batch:
            if item.id in existing:
                self._compare(item, existing[item.id])
            elif item.id in ids:
                self.note(Problem("rejected", "this id is on an earlier row of the file",
                                  row=item.row, external_id=str(item.id), field="id"))
            else:
                ids.add(item.id)
                fresh.append(item)
        if self.dump.kind != "datapackage":
            self._unknown_tags(fresh)
        planned = self._checked(fresh)
        if planned:
            create_entries([plan for _, plan in planned], author=self.author,
                           comment=f"Restored from {self.dump.path.name}")
            copy_lines("sources", SOURCE_COLUMNS[:5], [
                copy_line((plan.id, origin, external_id, licence, {}))
                for item, plan in planned for origin, external_id, licence in item.sources])
            self.restored.update(item.id for item, _ in planned)
            self.ledger.count("created", len(planned))
        db.session.expunge_all()  # the compared entries: memory stays flat

    def _compare(self, item: DumpEntry, existing: Entry) -> None:
        mine = C.from_entry(existing)
        theirs = C.from_record(item.data, mine["relations"])
        if mine == theirs:
            self.ledger.count("unchanged")
        else:
            self.ledger.conflict([Problem(
                "conflict", "an entry with this id exists here and differs: left as it is "
                f"({', '.join(C.differing(mine, theirs))})", row=item.row,
                external_id=str(item.id), entry=existing.slug)])

    def _unknown_tags(self, items: list[DumpEntry]) -> None:
        """Tags a CSV or GeoJSON dump names but cannot describe: created, labelled by slug
        (a warning at the first row that names each)."""
        first: dict[str, int] = {}
        for item in items:
            for slug in item.data["tags"]:
                first.setdefault(slug, item.row)
        tags = ensure_tags({"slug": s} for s in first)  # labelled by their slug
        for slug in tags.created:
            self.tags_created.append(slug)
            self.note(Problem("warning", f"tag {slug!r} created with its slug as label",
                              row=first[slug], field="tags"))
        for slug, reason in tags.refused:  # its rows are rejected: unknown tag
            self.note(Problem("warning", f"tag {slug!r} not created: {reason}",
                              row=first[slug], field="tags"))

    def _reject(self, item: DumpEntry, reason: str) -> None:
        self._rejected.append(Problem("rejected", reason, row=item.row,
                                      external_id=str(item.id)))

    def _checked(self, items: list[DumpEntry]) -> list[tuple[DumpEntry, NewEntry]]:
        """What save_entry would refuse, refused here, each with its row: the entry schema
        and the located check (new_entry), unknown tags, a slug or a source key that
        another entry holds (one query each for the batch)."""
        planned = []
        for item in items:
            try:
                planned.append((item, new_entry(
                    item.data, None, entry_id=item.id, created_at=item.created_at,
                    updated_at=item.updated_at)))
            except WriteValidationError as exc:
                self._reject(item, str(exc))
        slugs = [plan.slug for _, plan in planned if plan.slug]
        taken = set(db.session.scalars(TAKEN_SLUGS_SQL, {"slugs": slugs})) if slugs else set()
        keys = [key for item, _ in planned for key in item.sources]
        held = {tuple(row) for row in db.session.execute(HELD_SOURCES_SQL, {
            "origins": [k[0] for k in keys], "keys": [k[1] for k in keys]})} if keys else set()
        tags = self._known_tags()
        kept = []
        for item, plan in planned:
            unknown = sorted(set(plan.tags) - tags)
            claimed = [f"{o} {k}" for o, k, _ in item.sources if (o, k) in held]
            if unknown:
                self._reject(item, "tags: " + " ".join(f"Unknown tag {s!r}." for s in unknown))
            elif plan.slug in taken:
                self._reject(item, "slug: This slug is already used by another entry.")
            elif claimed:
                self._reject(item, f"sources: {', '.join(claimed)} is already the source "
                                   "of another entry")
            else:
                kept.append((item, plan))
                taken.add(plan.slug)
                held.update((o, k) for o, k, _ in item.sources)
        for problem in sorted(self._rejected, key=lambda p: p.row or 0):
            self.note(problem)
        self._rejected.clear()
        return kept

    def _known_tags(self) -> set[str]:
        if self._tags is None or self.dump.kind != "datapackage":
            self._tags = set(db.session.scalars(select(Tag.slug)))
        return self._tags

    # -- links, a batch at a time ----------------------------------------------------------

    def _links(self, batch: list[tuple[uuid.UUID, list[dict[str, str]]]]) -> None:
        """The links of restored entries: checked as save_entry checks them (type, an
        existing target, not itself), written with one COPY, then each linked entry's
        version 2 and its revision (version 1's snapshot with the links), in SQL."""
        wanted = [(source, links) for source, links in batch if source in self.restored]
        if not wanted:
            return
        targets = set()
        for _, links in wanted:
            for link in links:
                with suppress(ValueError):
                    targets.add(uuid.UUID(link["target"]))
        found = set(db.session.scalars(select(Entry.id).where(Entry.id.in_(targets))))
        lines, linked = [], []
        for source, links in wanted:
            errors, keys = {}, set()
            for index, link in enumerate(links):
                try:
                    target = uuid.UUID(link["target"])
                except ValueError:
                    target = None
                if link["type"] not in RELATION_TYPES:
                    errors[f"relations.{index}.type"] = [
                        f"Must be one of: {', '.join(RELATION_TYPES)}."]
                elif target is None or target not in found:
                    errors[f"relations.{index}.target"] = [f"No entry {link['target']!r}."]
                elif target == source:
                    errors[f"relations.{index}.target"] = [
                        "An entry cannot be related to itself."]
                else:
                    keys.add((link["type"], target))
            if errors:
                slug = db.session.scalar(select(Entry.slug).where(Entry.id == source))
                self.note(Problem("warning", f"links not restored: "
                                  f"{WriteValidationError(errors)}", external_id=str(source),
                                  entry=slug, field="relations"))
                continue
            lines.extend(copy_line((source, target, kind)) for kind, target in sorted(keys))
            linked.append(str(source))
        if not linked:
            return
        copy_lines("relations", ("source_id", "target_id", "type"), lines)
        db.session.execute(LINKS_REVISION_SQL, {
            "ids": linked, "label": self.author.label,
            "comment": f"Links restored from {self.dump.path.name}"[:500]})
        db.session.execute(LINKS_VERSION_SQL, {"ids": linked})

    def _sheet(self, sheet: dict[str, Any], number: int) -> None:
        entry_id = uuid.UUID(sheet["entry_id"])
        if entry_id not in self.restored:
            self.note(Problem("skipped", "its entry was not restored by this run",
                              row=number, external_id=sheet["id"], field="entry_id"))
            return
        entry = db.session.get(Entry, entry_id)
        payload = {"title": sheet["title"], "held_on": sheet["held_on"],
                   "authors": _none(sheet["authors"]), "state": "published",
                   "answers": sheet["answers"]}
        try:
            save_evaluation(entry, None, payload, author=self.author, expected_version=None,
                            commit=False, evaluation_id=uuid.UUID(sheet["id"]),
                            comment=f"Restored from {self.dump.path.name}")
        except WriteValidationError as exc:
            self.note(Problem("rejected", str(exc), row=number, external_id=sheet["id"]))
            return
        db.session.execute(SHEET_TIMES_SQL, {"id": sheet["id"],
                                             "created": _time(sheet["created_at"]),
                                             "updated": _time(sheet["updated_at"])})
