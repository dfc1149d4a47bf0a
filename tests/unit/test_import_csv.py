"""CSV imports: encodings, delimiters, coordinates, bad files, big files."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Source
from importers.csv_reader import CsvFileError, detect_encoding, read_csv, sniff_delimiter
from importers.mapping import load_csv_mapping
from importers.pipeline import ImportFailed
from tests.conftest import make_app
from tests.demo_data import haversine_m, located
from tests.memory_probe import memory_probe_files, run_memory_probe
from tests.support.importer import (
    DATA,
    HEADER,
    MAPPING,
    cut_csv,
    entries_of,
    items_of,
    run_import,
    table_counts,
    with_comma,
    write_csv,
)


def test_semicolons_windows_1252_and_decimal_commas(session, tmp_path):
    rows = [
        ["tl-1", "Tiers-lieu", "Café œcuménique – l’Été", "3 rue d’Arras", "59000", "Lille",
         with_comma(50.6251), with_comma(3.0612), "www.ete.example.org", "coworking;jardin"],
        ["tl-2", "Initiative", "Réparer à Fives", "", "59800", "Lille", "", "", "",
         "réparation"],
    ]
    path = write_csv(tmp_path / "lieux.csv", rows, delimiter=";", encoding="cp1252")
    assert detect_encoding(path) == "cp1252"
    result = run_import(load_csv_mapping(MAPPING), read_csv(path, load_csv_mapping(MAPPING)))
    assert result.counts["created"] == 2, result.report
    imported = entries_of("csv:tiers-lieux-test")
    first = imported["tl-1"]
    assert first.name == "Café œcuménique – l’Été"
    assert first.street == "3 rue d’Arras"
    assert first.lonlat == pytest.approx((3.0612, 50.6251))
    assert first.website == "https://www.ete.example.org"
    assert [t.slug for t in first.tags] == ["coworking", "garden"]
    # An initiative may have no position: kept without one.
    assert imported["tl-2"].lonlat is None and imported["tl-2"].kind == "initiative"
    source = db.session.scalar(select(Source).where(Source.entry_id == first.id))
    assert source.attributes["raw"]["Nom"] == "Café œcuménique – l’Été"
    assert source.attributes["row"] == 2


def test_encoding_and_delimiter_detection(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffa\tb\n1\t2\n".encode())
    assert detect_encoding(bom) == "utf-8-sig"
    plain = tmp_path / "plain.csv"
    plain.write_text("a|b\né|2\n", encoding="utf-8")
    assert detect_encoding(plain) == "utf-8"
    for delimiter in ",;\t|":
        sample = delimiter.join(["id", "nom", "ville"]) + "\n" + delimiter.join(
            ["1", "Un, deux; trois", "Lille"]) + "\n"
        assert sniff_delimiter(sample) == delimiter


def test_a_late_non_utf8_byte_still_means_windows_1252(tmp_path):
    path = tmp_path / "late.csv"
    path.write_bytes(b"a,b\n" + b"x,y\n" * 200_000 + "é,z\n".encode("cp1252"))
    assert detect_encoding(path) == "cp1252"


# Lambert-93 (EPSG:2154), forward, from IGN's formulas (not from pyproj): the test's
# own computation of X/Y, which the importer must turn back into lon/lat.
L93 = {"n": 0.7256077650532670, "c": 11754255.4261, "xs": 700000.0, "ys": 12655612.0499,
       "lon0": 3.0, "e": 0.0818191910428158}


def lambert93(lon: float, lat: float) -> tuple[float, float]:
    e, phi = L93["e"], math.radians(lat)
    iso = math.log(math.tan(math.pi / 4 + phi / 2)
                   * ((1 - e * math.sin(phi)) / (1 + e * math.sin(phi))) ** (e / 2))
    r = L93["c"] * math.exp(-L93["n"] * iso)
    gamma = L93["n"] * math.radians(lon - L93["lon0"])
    return L93["xs"] + r * math.sin(gamma), L93["ys"] - r * math.cos(gamma)


NAMES = ["Verger", "Forge", "Ruche", "Atelier", "Grenier"]


def spread_places(count: int) -> list[dict]:
    """Demo places at least 200 m from each other (some demo entries share a building)."""
    chosen: list[dict] = []
    for place in located():
        if all(haversine_m(place["lon"], place["lat"], c["lon"], c["lat"]) > 200
               for c in chosen):
            chosen.append(place)
        if len(chosen) == count:
            return chosen
    raise AssertionError("not enough demo places")


def test_lambert93_coordinates(session, tmp_path):
    places = spread_places(5)
    rows = []
    for index, place in enumerate(places):
        x, y = lambert93(place["lon"], place["lat"])
        assert 650_000 < x < 750_000 and 7_000_000 < y < 7_100_000   # Lille in Lambert-93
        rows.append([f"l93-{index}", NAMES[index], f"{x:.2f}", f"{y:.2f}"])
    path = write_csv(tmp_path / "l93.csv", rows, header=["id", "nom", "X", "Y"])
    mapping_file = tmp_path / "l93.toml"
    mapping_file.write_text('name = "l93"\nkey = "id"\nkind = "commons"\n'
                            '[columns]\nname = "nom"\n[position]\nx = "X"\ny = "Y"\n'
                            'crs = "EPSG:2154"\n')
    mapping = load_csv_mapping(mapping_file)
    result = run_import(mapping, read_csv(path, mapping))
    assert result.counts["created"] == len(places), result.report
    imported = entries_of("csv:l93")
    for index, place in enumerate(places):
        lon, lat = imported[f"l93-{index}"].lonlat
        assert lon == pytest.approx(place["lon"], abs=1e-6)
        assert lat == pytest.approx(place["lat"], abs=1e-6)


def test_wkt_points_and_swapped_coordinates(session, tmp_path):
    place, other = spread_places(2)
    x, y = lambert93(other["lon"], other["lat"])
    rows = [["w-1", "Point WKT", f"POINT({place['lon']} {place['lat']})"],
            ["w-2", "Point WKT en Lambert-93", f"SRID=2154;POINT({x:.2f} {y:.2f})"],
            ["w-3", "Point inversé", f"POINT({place['lat']} {place['lon'] + 0.01})"],
            ["w-4", "Pas un point", "LINESTRING(1 2, 3 4)"]]
    path = write_csv(tmp_path / "wkt.csv", rows, header=["id", "nom", "geom"])
    mapping_file = tmp_path / "wkt.toml"
    mapping_file.write_text('name = "wkt"\nkey = "id"\nkind = "third_place"\n'
                            '[columns]\nname = "nom"\n[position]\nwkt = "geom"\n')
    mapping = load_csv_mapping(mapping_file)
    result = run_import(mapping, read_csv(path, mapping))
    imported = entries_of("csv:wkt")
    assert imported["w-1"].lonlat == pytest.approx((place["lon"], place["lat"]))
    assert imported["w-2"].lonlat == pytest.approx((other["lon"], other["lat"]), abs=1e-6)
    assert imported["w-3"].lonlat == pytest.approx((place["lon"] + 0.01, place["lat"]))
    warning = items_of(result.report, "warning")[0]
    assert (warning["row"], warning["field"]) == (4, "geom")
    assert "swapped" in warning["reason"]
    rejected = items_of(result.report, "rejected")
    assert [(r["row"], r["field"]) for r in rejected] == [(5, "geom")]
    assert "not a WKT POINT" in rejected[0]["reason"]


def test_swapped_latitude_and_longitude_columns(session, tmp_path):
    rows = [["s-1", "Tiers-lieu", "Lieu à l'envers", "", "", "", "3.0700", "50.6300", "", ""],
            ["s-2", "Tiers-lieu", "Lieu à l'endroit", "", "", "", "50.6400", "3.0800", "", ""],
            ["s-3", "Tiers-lieu", "Lieu au loin", "", "", "", "43.5261", "5.4142", "", ""]]
    path = write_csv(tmp_path / "swap.csv", rows)
    result = run_import(load_csv_mapping(MAPPING), read_csv(path, load_csv_mapping(MAPPING)))
    imported = entries_of("csv:tiers-lieux-test")
    assert imported["s-1"].lonlat == pytest.approx((3.07, 50.63))
    assert imported["s-2"].lonlat == pytest.approx((3.08, 50.64))
    notes = {w["row"]: w["reason"] for w in items_of(result.report, "warning")}
    assert "swapped" in notes[2] and 3 not in notes and 4 not in notes
    # Far from the territory (Aix-en-Provence): reported and left out…
    assert "s-3" not in imported
    [outside] = items_of(result.report, "skipped")
    assert outside["row"] == 4 and "outside the territory" in outside["reason"]
    # … unless the run imports from anywhere.
    mapping = load_csv_mapping(MAPPING)
    mapping.anywhere = True
    run_import(mapping, read_csv(path, mapping))
    assert entries_of("csv:tiers-lieux-test")["s-3"].lonlat == pytest.approx((5.4142, 43.5261))


def test_a_missing_required_column_is_a_clear_error_before_any_write(session, tmp_path):
    header = [h for h in HEADER if h != "Nom"]
    path = write_csv(tmp_path / "no-name.csv", [["x-1", "Commun", "", "", "", "", "", "",
                                                  ""]], header=header)
    before = table_counts()
    with pytest.raises(ImportFailed) as failure:
        run_import(load_csv_mapping(MAPPING), read_csv(path, load_csv_mapping(MAPPING)))
    cause = failure.value.__cause__
    assert isinstance(cause, CsvFileError)
    assert "lacks the column(s) 'Nom'" in str(cause) and "nothing was imported" in str(cause)
    assert table_counts() == before
    assert failure.value.run.status == "failed"


def test_a_file_cut_inside_a_quoted_field_writes_nothing(session, tmp_path):
    path = cut_csv(tmp_path)
    before = table_counts()
    with pytest.raises(ImportFailed) as failure:
        run_import(load_csv_mapping(MAPPING), read_csv(path, load_csv_mapping(MAPPING)),
                   batch_size=2)
    message = str(failure.value.__cause__)
    assert "row 7 (line 7)" in message and "ends inside a quoted field" in message
    assert table_counts() == before


def test_rows_without_usable_values_are_rejected_with_row_and_column(session, tmp_path):
    rows = [["r-1", "Tiers-lieu", "Sans position", "", "", "", "", "", "", ""],
            ["r-2", "Tiers-lieu", "Position illisible", "", "", "", "nord", "3,05", "", ""],
            ["r-3", "Soucoupe", "Genre inconnu", "", "", "", "", "", "", ""],
            ["", "Commun", "Sans identifiant", "", "", "", "", "", "", ""],
            ["r-5", "Commun", "", "", "", "", "", "", "", ""],
            ["r-6", "Commun", "Site faux", "", "", "", "", "", "http://", ""],
            ["r-6", "Commun", "Identifiant répété", "", "", "", "", "", "", ""],
            ["r-8", "Commun", "Correct", "", "", "", "", "", "", ""]]
    path = write_csv(tmp_path / "bad.csv", rows)
    result = run_import(load_csv_mapping(MAPPING), read_csv(path, load_csv_mapping(MAPPING)))
    rejected = {(r["row"], r.get("field")) for r in items_of(result.report, "rejected")}
    assert rejected == {(2, "lon"), (3, "Latitude"), (4, "kind"), (5, "Identifiant"),
                        (6, "name"), (8, None)}
    assert set(entries_of("csv:tiers-lieux-test")) == {"r-6", "r-8"}
    assert [(w["row"], w["field"]) for w in items_of(result.report, "warning")] == \
        [(7, "website")]
    assert result.counts["rejected"] == 6
    assert entries_of("csv:tiers-lieux-test")["r-6"].name == "Site faux"


def test_the_national_schema_example_file(session):
    mapping = load_csv_mapping(Path("data/mappings/csv/lieux-mediation-numerique.toml"))
    path = DATA / "lieux-mediation-numerique-exemple-valide.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        row = next(csv.DictReader(handle))
    result = run_import(mapping, read_csv(path, mapping))
    assert result.counts["created"] == 1, result.report
    entry = entries_of("csv:lieux-mediation-numerique")[row["id"]]
    assert entry.name == row["nom"] and entry.city == row["commune"]
    assert entry.email == row["courriels"].split("|")[0]
    assert entry.website == row["site_web"].split("|")[0]
    assert entry.lonlat == pytest.approx((float(row["longitude"]), float(row["latitude"])))
    assert {"digital-inclusion", "association", "commons", "culture"} == \
        {t.slug for t in entry.tags}
    again = run_import(mapping, read_csv(path, mapping))
    assert again.counts["unchanged"] == 1 and again.counts["created"] == 0


def test_the_national_example_imports_into_an_atlas_without_the_demo(databases):
    """The tags the national mapping gives are its own to create: an atlas started empty
    (DEMO=0) takes the national file as the demo's does (it refused the row: unknown
    tags association, commons, culture)."""
    app = make_app(databases.migrated("mednum_empty"))
    with app.app_context():
        try:
            mapping = load_csv_mapping(Path("data/mappings/csv/lieux-mediation-numerique.toml"))
            path = DATA / "lieux-mediation-numerique-exemple-valide.csv"
            result = run_import(mapping, read_csv(path, mapping))
            assert result.counts["created"] == 1, result.report
            [entry] = entries_of("csv:lieux-mediation-numerique").values()
            assert {t.slug for t in entry.tags} == {
                "digital-inclusion", "association", "commons", "culture"}
        finally:
            db.session.remove()
            db.engine.dispose()


def test_a_changed_cell_updates_only_that_field(session, tmp_path):
    rows = [["u-1", "Tiers-lieu", "Lieu modifiable", "1 rue A", "59000", "Lille", "50.62",
             "3.06", "", ""]]
    path = write_csv(tmp_path / "v1.csv", rows)
    mapping = load_csv_mapping(MAPPING)
    run_import(mapping, read_csv(path, mapping))
    entry = entries_of("csv:tiers-lieux-test")["u-1"]
    version = entry.version
    rows[0][3] = "2 rue B"
    run = run_import(mapping, read_csv(write_csv(tmp_path / "v2.csv", rows), mapping))
    assert run.counts["updated"] == 1
    db.session.refresh(entry)
    assert entry.street == "2 rue B" and entry.version == version + 1


def test_a_20000_row_file_is_imported_in_flat_memory(databases, tmp_path):
    """Importing 20,000 rows raises the peak memory little more than 2,000 rows did.

    In a fresh process (tests.memory_probe) on a database of its own: the peak
    (ru_maxrss) after a dry-run warm-up, after 2,000 rows, then after 20,000 more,
    of the writing process and of its reading processes. Rows are streamed in
    batches; if they (or their reports, ORM objects…) piled up, the second import
    would raise the peak by about ten times what the first did. The same probe at
    10,000 and 100,000 rows is `bench/bench_csv.py --memory` (a memory target belongs
    to the benchmarks); here the smallest sizes that still tell a pile-up from noise:
    the second import raised the peak by 7–8 MiB at 20,000 as at 50,000 rows.
    """
    url = databases.demo("memory")  # the tags the mapping uses
    files = memory_probe_files(tmp_path, 2_000, 20_000)
    out = run_memory_probe(url, files)
    warm, after_small, after_big = out["peaks_kib"]
    assert out["counts"][0]["created"] == 2_000
    assert out["counts"][1]["created"] + out["counts"][1]["duplicates"] == 20_000
    grew_small, grew_big = after_small - warm, after_big - after_small
    # 18,000 more rows: less than 12 MiB more peak (a pile-up of ~1 KiB per row
    # would be about 18 MiB on top of the 7–8 MiB every run of this size takes).
    assert grew_big < 12 * 1024, (warm, grew_small, grew_big)
    child_warm, child_small, child_big = out["child_peaks_kib"]
    assert child_warm > 0  # the files were read in child processes
    assert child_big - child_small < 12 * 1024, out["child_peaks_kib"]
