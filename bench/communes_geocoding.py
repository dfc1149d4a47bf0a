"""INSEE codes and geocoding at volume (issue 13); prints figures, passes or fails nothing.

    .venv/bin/python bench/communes_geocoding.py [--package TGZ] [--entries 100000]
                                                 [--rows 10000] [--fill 10000]

1. The matcher: the index built from the whole list (the package's tarball given by
   --package, e.g. from `npm pack @etalab/decoupage-administratif@6.0.0`; else the
   Nord/Pas-de-Calais extract), then --entries look-ups of real (postcode, name) pairs
   written as sources write them (upper case, no accents, CEDEX, St-…).
2. An import of --entries CSV rows with an address (codes filled while reading), in a
   throwaway database, against the same import with no list loaded.
3. `flask communes fill` over --fill existing entries without a code (the write path,
   with revisions).
4. A geocoding batch of --rows addresses through the CSV endpoint of the local replay
   server (tests/support/address_service.py, house numbers varied over its canned
   answers), then the same batch again from the database cache.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.communes.index import CommuneIndex, records_from_rows  # noqa: E402
from app.communes.names import ascii_lower  # noqa: E402
from app.communes.package import EXTRACT, read_file, rows  # noqa: E402
from bench.harness import make_app, migrate, throwaway_database  # noqa: E402


def _addresses(records: list[dict], count: int, seed: int = 13) -> list[tuple[str, str, str]]:
    """(postcode, city, expected code) as sources write them."""
    rng = random.Random(seed)  # noqa: S311 (synthetic data)
    current = [r for r in records if r["kind"] == "commune-actuelle" and r["postcodes"]]
    out = []
    for _ in range(count):
        record = rng.choice(current)
        postcode = rng.choice(record["postcodes"])
        name = record["name"]
        style = rng.random()
        if style < 0.3:
            name = name.upper()
        elif style < 0.5:
            name = ascii_lower(name).replace("-", " ")
        elif style < 0.55:
            name = f"{name.upper()} CEDEX"
        elif style < 0.6 and name.startswith("Saint-"):
            name = "St-" + name[6:]
        out.append((postcode, name, record["code"]))
    return out


def matcher(package: Path | None, count: int) -> list[dict]:
    source = read_file(package) if package else read_file(EXTRACT)
    table = rows(source.communes, source.origin)
    started = time.perf_counter()
    index = CommuneIndex.build(records_from_rows(
        (r["code"], r["name"], r["kind"], r["parent_code"], r["department"], r["postcodes"])
        for r in table), 1)
    built = time.perf_counter() - started
    addresses = _addresses(table, count)
    started = time.perf_counter()
    results = [index.lookup(p, c) for p, c, _code in addresses]
    elapsed = time.perf_counter() - started
    right = sum(1 for m, a in zip(results, addresses, strict=True) if m.code == a[2])
    found = sum(1 for m in results if m.status == "found")
    print(f"matcher: {len(table):,} records ({source.origin}); index built in {built:.2f} s; "
          f"{count:,} look-ups in {elapsed:.2f} s = {count / elapsed:,.0f}/s; found "
          f"{found:,}, equal to the commune written {right:,}; ambiguous "
          f"{sum(1 for m in results if m.status == 'ambiguous'):,}, unknown "
          f"{sum(1 for m in results if m.status == 'unknown'):,}")
    return table


def imports(table: list[dict], count: int, fill: int) -> None:
    from sqlalchemy import func, select, text

    from app.communes.package import CommuneList, load
    from app.extensions import db
    from app.models import Entry
    from importers.csv_reader import read_csv
    from importers.mapping import load_csv_mapping
    from importers.pipeline import Pipeline, RunOptions
    from tests.support.importer import HEADER, MAPPING, grid_rows

    # Communes of the Nord and Pas-de-Calais: the rows' positions are in the Lille box.
    addresses = _addresses([r for r in table if r["department"] in ("59", "62")], count)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, delimiter=";")
            writer.writerow(HEADER)
            # The importer tests' 100 m grid (no two rows are twins), with real addresses.
            for row, (postcode, city, _code) in zip(grid_rows(count, "b"), addresses,
                                                    strict=True):
                writer.writerow([*row[:4], postcode, city, *row[6:9], ""])
        for label, with_list in (("without a list", False), ("with the list", True)):
            with throwaway_database(f"insee_{int(with_list)}") as url:
                app = make_app(url)
                with app.app_context():
                    migrate(app)
                    if with_list:
                        load(CommuneList("bench", "bench", None, [
                            {"code": r["code"], "nom": r["name"], "type": r["kind"],
                             "departement": r["department"], "region": r["region"],
                             "commune": r["parent_code"], "codesPostaux": r["postcodes"]}
                            for r in table]))
                        db.session.commit()
                    mapping = load_csv_mapping(MAPPING)
                    started = time.perf_counter()
                    result = Pipeline(mapping, RunOptions()).run(read_csv(path, mapping))
                    db.session.commit()
                    elapsed = time.perf_counter() - started
                    coded = db.session.scalar(select(func.count()).select_from(Entry).where(
                        Entry.insee_code.is_not(None)))
                    print(f"import of {count:,} rows {label}: {elapsed:.1f} s = "
                          f"{count / elapsed:,.0f} rows/s; created {result.counts['created']:,}"
                          f", with an INSEE code {coded:,}")
                    if with_list and fill:
                        db.session.execute(text(
                            "UPDATE entries SET insee_code = NULL WHERE id IN (SELECT id FROM "
                            "entries WHERE insee_code IS NOT NULL LIMIT :n)"), {"n": fill})
                        db.session.commit()
                        started = time.perf_counter()
                        out = app.test_cli_runner().invoke(args=["communes", "fill"])
                        elapsed = time.perf_counter() - started
                        print(f"communes fill of {fill:,} entries: {elapsed:.1f} s = "
                              f"{fill / elapsed:,.0f} entries/s ({out.output.splitlines()[0]})")
                    db.session.remove()
                    db.engine.dispose()


def geocoding(count: int) -> None:
    from app.extensions import db
    from app.geocoding.cache import DatabaseCache
    from app.geocoding.client import AddressService
    from tests.support.address_service import AddressReplay

    streets = [("place du Théâtre", "59800", "Lille"), ("Grand Place", "59100", "Roubaix"),
               ("rue de la Cloche", "59200", "Tourcoing"),
               ("Les Ateliers zone artisanale", "59000", "Lille")]
    rows_ = {}
    for i in range(count):
        if i % 50 == 49:
            rows_[f"r{i}"] = (f"{i} impasse des Songes", "59999", "Nulle-Part")  # a miss
        else:
            street, postcode, city = streets[i % len(streets)]
            rows_[f"r{i}"] = (f"{i} {street}", postcode, city)
    with throwaway_database("geocoding") as url, AddressReplay(numbered=True) as server:
        app = make_app(url)
        with app.app_context():
            migrate(app)
            service = AddressService(server.url, cache=DatabaseCache(), batch_rows=5000)
            for label in ("first (the service)", "again (the cache)"):
                started = time.perf_counter()
                outcomes = service.search_batch(rows_)
                db.session.commit()
                elapsed = time.perf_counter() - started
                statuses: dict[str, int] = {}
                for o in outcomes.values():
                    statuses[o.status] = statuses.get(o.status, 0) + 1
                print(f"geocoding {count:,} rows, {label}: {elapsed:.2f} s = "
                      f"{count / elapsed:,.0f} rows/s; {statuses}; HTTP calls so far "
                      f"{len(server.calls)}")
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--package", type=Path)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--fill", type=int, default=10_000)
    parser.add_argument("--skip-import", action="store_true")
    args = parser.parse_args()
    table = matcher(args.package, args.entries)
    if not args.skip_import:
        imports(table, args.entries, args.fill)
    geocoding(args.rows)


if __name__ == "__main__":
    main()
