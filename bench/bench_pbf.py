"""PBF scanning speed: objects per second through osmium's C++ tag filter.

    .venv/bin/python bench/bench_pbf.py [OBJECTS]      (default 1,200,000)

Writes a synthetic .osm.pbf with pyosmium's writer (nodes on a jittered grid over the
Lille area, 3 % of them tagged like real OSM nodes, and ways of 10 nodes, most tagged
highway/building, a few with a mapped tag), then reads it with
importers.osm_files.read_osm_file and data/mappings/osm.toml, and prints the rate.
Target: 1,000,000 objects/s. The file goes to a temporary directory.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

import osmium
from common import ROOT

NODE_TAGS = [
    {"amenity": "restaurant", "name": "Restaurant"},
    {"shop": "bakery", "name": "Boulangerie"},
    {"highway": "bus_stop", "name": "Arrêt"},
    {"amenity": "bench"},
    {"barrier": "gate"},
    {"amenity": "coworking_space", "name": "Coworking"},
    {"amenity": "public_bookcase"},
    {"shop": "convenience", "operator:type": "cooperative", "name": "Coop"},
]
WAY_TAGS = [{"highway": "residential", "name": "Rue"}, {"building": "yes"},
            {"building": "yes"}, {"landuse": "grass"},
            {"leisure": "garden", "garden:type": "community", "name": "Jardin"}]


def write_pbf(path: Path, objects: int) -> tuple[int, int]:
    rng = random.Random(42)  # noqa: S311 (a reproducible synthetic file)
    n_nodes = int(objects * 0.9)
    n_ways = objects - n_nodes
    side = int(n_nodes ** 0.5) + 1
    with osmium.SimpleWriter(str(path)) as writer:
        for i in range(1, n_nodes + 1):
            # A grid with jitter: real files do not compress as well as a perfect grid.
            lat = 50.49 + (i // side) * (0.33 / side) + rng.uniform(-1e-4, 1e-4)
            lon = 2.78 + (i % side) * (0.52 / side) + rng.uniform(-1e-4, 1e-4)
            tags = NODE_TAGS[rng.randrange(len(NODE_TAGS))] if rng.random() < 0.03 else {}
            writer.add_node(osmium.osm.mutable.Node(id=i, location=(lon, lat), tags=tags,
                                                    version=1))
        for j in range(1, n_ways + 1):
            start = rng.randrange(1, n_nodes - 10)
            tags = WAY_TAGS[0] if j % 50 else WAY_TAGS[4]
            tags = tags if j % 3 else WAY_TAGS[1 + j % 3]
            writer.add_way(osmium.osm.mutable.Way(id=j, nodes=list(range(start, start + 10)),
                                                  tags=tags, version=1))
    return n_nodes, n_ways


def main() -> None:
    objects = int(sys.argv[1]) if len(sys.argv) > 1 else 1_200_000
    from importers.mapping import load_osm_mapping
    from importers.osm_files import ScanStats, read_osm_file

    mapping = load_osm_mapping(ROOT / "data" / "mappings" / "osm.toml")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.osm.pbf"
        start = time.perf_counter()
        nodes, ways = write_pbf(path, objects)
        print(f"wrote {nodes + ways:,} objects ({nodes:,} nodes, {ways:,} ways), "
              f"{path.stat().st_size / 1e6:.1f} MB, in {time.perf_counter() - start:.1f} s")
        for attempt in range(3):
            stats = ScanStats()
            start = time.perf_counter()
            selected = sum(1 for _ in read_osm_file(path, mapping, stats))
            seconds = time.perf_counter() - start
            print(f"scan {attempt + 1}: {nodes + ways:,} objects in {seconds:.2f} s = "
                  f"{(nodes + ways) / seconds:,.0f} objects/s (target 1,000,000); "
                  f"{stats.objects:,} passed the C++ filter, {selected:,} selected")


if __name__ == "__main__":
    main()
