"""OSM files (.osm, .osm.gz, .osm.bz2, .osm.pbf) through pyosmium.

Untagged objects and objects without any key the mapping looks at are dropped by
osmium's C++ filters before Python sees them. A way's position is the centre of
the bounding box of its node locations (as Overpass's `center`); nodes missing
from an extract are counted, and a way none of whose nodes is present is skipped.
Relations have no position here (assembling multipolygons needs a second pass):
they are counted as skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import osmium

from app.services.runs import Problem

from .mapping import OsmMapping
from .osm_common import candidate_from_tags
from .records import Candidate

SUFFIXES = (".osm", ".osm.gz", ".osm.bz2", ".osm.pbf", ".pbf", ".osc", ".xml")


@dataclass
class ScanStats:
    """What a scan saw, for the report and the benchmark."""

    objects: int = 0          # objects that passed the C++ filters
    selected: int = 0         # objects a rule of the mapping selected
    missing_nodes: int = 0    # way node references whose node is not in the file
    skipped_ways: int = 0     # selected ways with no node location at all
    skipped_relations: int = 0  # selected relations none of whose members is in the file


def check_path(path: Path) -> None:
    name = path.name.lower()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if not name.endswith(SUFFIXES):
        raise ValueError(f"{path}: not an OSM file ({', '.join(SUFFIXES)})")


def processor(path: Path, mapping: OsmMapping) -> osmium.FileProcessor:
    """A FileProcessor that keeps node locations and lets only relevant objects through."""
    return (osmium.FileProcessor(str(path))
            .with_locations()
            .with_filter(osmium.filter.EmptyTagFilter())
            .with_filter(osmium.filter.KeyFilter(*mapping.keys())))


def read_osm_file(path: Path | str, mapping: OsmMapping,
                  stats: ScanStats | None = None) -> Iterator[Candidate | Problem]:
    """Candidates for the objects of `path` that the mapping selects, and what was skipped."""
    path = Path(path)
    check_path(path)
    stats = stats if stats is not None else ScanStats()
    pending: list[tuple[int, dict[str, str], list[tuple[str, int]]]] = []
    for obj in processor(path, mapping):
        stats.objects += 1
        # The rules read osmium's TagList directly: no dict is built for the many
        # objects that pass the key filter but no rule (named streets…).
        classified = mapping.classify(obj.tags)
        if classified is None:
            continue
        tags = {t.k: t.v for t in obj.tags}
        if obj.is_node():
            kind, lon, lat = "node", obj.location.lon, obj.location.lat
        elif obj.is_way():
            kind = "way"
            centre = _way_centre(obj, stats)
            if centre is None:
                stats.skipped_ways += 1
                yield Problem("skipped", "none of the way's nodes is in the file",
                              external_id=f"way/{obj.id}")
                continue
            lon, lat = centre
        else:
            members = [(m.type, m.ref) for m in obj.members]
            pending.append((obj.id, tags, members))
            continue
        candidate = candidate_from_tags(mapping, kind, obj.id, tags, lon, lat)
        if candidate is not None:
            stats.selected += 1
            yield candidate
    if pending:
        yield from _relations(path, mapping, pending, stats)


def _relations(path: Path, mapping: OsmMapping,
               pending: list[tuple[int, dict[str, str], list[tuple[str, int]]]],
               stats: ScanStats) -> Iterator[Candidate | Problem]:
    """Second pass: the member ways' node locations, then each relation's centre."""
    way_ids = {ref for _id, _tags, members in pending for kind, ref in members if kind == "w"}
    locations = osmium.index.create_map("flex_mem")
    way_boxes: dict[int, tuple[float, float, float, float]] = {}
    reader = (osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
              .with_locations(locations)
              .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
              .with_filter(osmium.filter.IdFilter(way_ids)))
    for way in reader:
        points = [(n.location.lon, n.location.lat) for n in way.nodes if n.location.valid()]
        stats.missing_nodes += len(way.nodes) - len(points)
        if points:
            lons, lats = zip(*points, strict=True)
            way_boxes[way.id] = (min(lons), min(lats), max(lons), max(lats))
    for relation_id, tags, members in pending:
        boxes = []
        for kind, ref in members:
            if kind == "w" and ref in way_boxes:
                boxes.append(way_boxes[ref])
            elif kind == "n":
                try:
                    location = locations.get(ref)
                except KeyError:
                    continue
                boxes.append((location.lon, location.lat, location.lon, location.lat))
        if not boxes:
            stats.skipped_relations += 1
            yield Problem("skipped", "none of the relation's member nodes or ways is in the "
                          "file", external_id=f"relation/{relation_id}")
            continue
        lon = (min(b[0] for b in boxes) + max(b[2] for b in boxes)) / 2
        lat = (min(b[1] for b in boxes) + max(b[3] for b in boxes)) / 2
        candidate = candidate_from_tags(mapping, "relation", relation_id, tags, lon, lat)
        if candidate is not None:
            stats.selected += 1
            yield candidate


def _way_centre(way: osmium.osm.Way, stats: ScanStats) -> tuple[float, float] | None:
    lons, lats = [], []
    for ref in way.nodes:
        location = ref.location
        if location.valid():
            lons.append(location.lon)
            lats.append(location.lat)
        else:
            stats.missing_nodes += 1
    if not lons:
        return None
    return (min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2


def scan_count(path: Path | str, mapping: OsmMapping) -> ScanStats:
    """Read the whole file through the filters, counting what passes (the benchmark)."""
    stats = ScanStats()
    for _candidate in read_osm_file(path, mapping, stats):
        pass
    return stats
