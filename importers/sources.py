"""Readers described by what they read (a file and its mapping) rather than as iterators.

Such a description is picklable, so the pipeline can run the reading and the
validation in a child process (importers.reader_process) while it writes; iterating
one in-process reads the file too. `read(advance)` reports progress in the source's
`unit` and may yield Notices (what a reader has to tell once it is done) among its
candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from app.services.runs import Problem

from .mapping import CsvMapping, OsmMapping
from .records import Candidate


@dataclass(frozen=True)
class Notice:
    """A message from a reader for whoever runs the import (the CLI prints it)."""

    message: str


Item = Candidate | Problem | Notice


@dataclass(frozen=True)
class FileSource:
    """A file and the mapping that reads it."""

    path: Path
    mapping: Any
    unit: ClassVar[str] = "rows"

    def size(self) -> int:
        """Bytes of the file: the pipeline reads big files in a child process."""
        return self.path.stat().st_size

    def total(self) -> int | None:
        """The progress total in `unit`, when known before reading."""
        return None

    def read(self, advance: Callable[[int], None]) -> Iterator[Item]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Item]:
        return self.read(lambda _n: None)


@dataclass(frozen=True)
class CsvFile(FileSource):
    """A CSV file; progress in bytes read. `encoding`: the file's, when not detected."""

    mapping: CsvMapping
    encoding: str | None = None
    unit: ClassVar[str] = "B"

    def total(self) -> int | None:
        return self.size()

    def read(self, advance: Callable[[int], None]) -> Iterator[Item]:
        from .csv_reader import read_csv

        return read_csv(self.path, self.mapping, on_bytes=advance,
                        encoding=self.encoding)


@dataclass(frozen=True)
class OsmFile(FileSource):
    """An OSM file (.osm, .osm.gz, .osm.bz2, .osm.pbf) or a saved Overpass answer (.json);
    progress in objects selected; ends with a Notice of what the scan saw."""

    mapping: OsmMapping
    unit: ClassVar[str] = "obj"

    def read(self, advance: Callable[[int], None]) -> Iterator[Item]:
        if self.path.name.lower().endswith(".json"):
            from .osm_overpass import load_json, read_overpass

            for item in read_overpass(load_json(self.path), self.mapping):
                advance(1)
                yield item
            return
        from .osm_files import ScanStats, read_osm_file

        stats = ScanStats()
        for item in read_osm_file(self.path, self.mapping, stats):
            advance(1)
            yield item
        yield Notice(
            f"{self.path.name}: {stats.objects} objects passed the tag filter, "
            f"{stats.selected} selected; {stats.missing_nodes} node references missing "
            f"from the file, {stats.skipped_ways} ways and {stats.skipped_relations} "
            "relations skipped.")
