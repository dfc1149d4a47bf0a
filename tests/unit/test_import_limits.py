"""Files that cannot be read as they are: encodings told by their byte order mark
(decoded), bytes of no known encoding (refused with their line), and files too wide
or too long per row (refused while reading, in well under a second). Each refusal is
a failed ImportRun with its message; the command line says it in one line."""

from __future__ import annotations

import codecs
import csv
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ImportRun
from importers.csv_reader import CsvFileError, detect_encoding
from importers.mapping import load_csv_mapping
from importers.pipeline import ImportFailed
from importers.sources import CsvFile
from tests.support.importer import (
    DATA,
    HEADER,
    MAPPING,
    entries_of,
    run_import,
    table_counts,
    write_csv,
)
from tests.support.processes import flask

REAL = DATA / "lieux-mediation-numerique-exemple-valide.csv"
REAL_MAPPING = Path("data/mappings/csv/lieux-mediation-numerique.toml")

ROWS = [["e-1", "Commun", "Café œcuménique – l’Été", "", "", "", "", "", "", ""],
        ["e-2", "Initiative", "Réparer à Fives", "", "59800", "Lille", "", "", "",
         "réparation"]]


def _encoded(path: Path, text: str, encoding: str, bom: bytes = b"") -> Path:
    path.write_bytes(bom + text.encode(encoding))
    return path


def _csv_text(rows: list[list[str]], header: list[str] = HEADER) -> str:
    lines = [",".join(header)] + [",".join(row) for row in rows]
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize(("encoding", "bom", "name"), [
    ("utf-16-le", codecs.BOM_UTF16_LE, "utf-16"),
    ("utf-16-be", codecs.BOM_UTF16_BE, "utf-16"),
    ("utf-32-le", codecs.BOM_UTF32_LE, "utf-32"),
    ("utf-32-be", codecs.BOM_UTF32_BE, "utf-32"),
])
def test_a_byte_order_mark_tells_the_encoding(session, tmp_path, encoding, bom, name):
    path = _encoded(tmp_path / "bom.csv", _csv_text(ROWS), encoding, bom)
    assert detect_encoding(path) == name
    mapping = load_csv_mapping(MAPPING)
    result = run_import(mapping, CsvFile(path, mapping), reader="process")
    assert result.counts["created"] == 2, result.report
    imported = entries_of("csv:tiers-lieux-test")
    assert imported["e-1"].name == "Café œcuménique – l’Été"
    assert [t.slug for t in imported["e-2"].tags] == ["repair"]


def test_utf_16_without_a_byte_order_mark_is_named(session, tmp_path):
    path = _encoded(tmp_path / "nobom.csv", _csv_text(ROWS), "utf-16-le")
    mapping = load_csv_mapping(MAPPING)
    with pytest.raises(ImportFailed) as failure:
        run_import(mapping, CsvFile(path, mapping))
    assert "looks like UTF-16 without a byte order mark; save it as UTF-8" in \
        str(failure.value)
    result = run_import(mapping, CsvFile(path, mapping, encoding="utf-16-le"))
    assert result.counts["created"] == 2


def test_the_real_national_example_in_utf_16_imports_as_in_utf_8(session, tmp_path):
    mapping = load_csv_mapping(REAL_MAPPING)
    text = REAL.read_text(encoding="utf-8")
    path = _encoded(tmp_path / "exemple-utf16.csv", text, "utf-16")  # BOM, little-endian
    result = run_import(mapping, CsvFile(path, mapping))
    assert result.counts["created"] == 1, result.report
    row = next(csv.DictReader(text.splitlines(keepends=True)))
    entry = entries_of("csv:lieux-mediation-numerique")[row["id"]]
    assert entry.name == row["nom"] and entry.city == row["commune"]


def test_a_byte_of_no_known_encoding_is_refused_with_its_line(session, tmp_path):
    # 0x81 is undefined in Windows-1252, and not UTF-8 either.
    text = _csv_text(ROWS).encode("cp1252") + b"e-3,Commun,Caf\x81,,,,,,,\r\n"
    path = tmp_path / "mixed.csv"
    path.write_bytes(text)
    mapping = load_csv_mapping(MAPPING)
    before = table_counts()
    with pytest.raises(ImportFailed) as failure:
        run_import(mapping, CsvFile(path, mapping))
    message = str(failure.value)
    assert "line 4" in message and "0x81" in message and "--encoding" in message, message
    assert isinstance(failure.value.__cause__, CsvFileError)
    assert failure.value.run.status == "failed" and failure.value.run.error == message
    assert table_counts() == before
    latin = run_import(mapping, CsvFile(path, mapping, encoding="latin-1"))
    assert latin.counts["created"] == 3


def _wide_header(path: Path, columns: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(HEADER + [f"c{i}" for i in range(columns - len(HEADER))]))
        handle.write("\r\n" + ",".join(ROWS[0]) + "\r\n")
    return path


def _refused(path: Path, **options) -> tuple[str, float]:
    mapping = load_csv_mapping(MAPPING)
    before = table_counts()
    start = time.monotonic()
    with pytest.raises(ImportFailed) as failure:
        run_import(mapping, CsvFile(path, mapping), **options)
    elapsed = time.monotonic() - start
    assert isinstance(failure.value.__cause__, CsvFileError), failure.value
    assert failure.value.run.status == "failed"
    assert failure.value.run.error == str(failure.value)
    assert table_counts() == before
    return str(failure.value), elapsed


@pytest.mark.parametrize("reader", ["thread", "process"])
def test_a_million_columns_are_refused_at_once(session, tmp_path, reader):
    message, elapsed = _refused(_wide_header(tmp_path / "wide.csv", 1_000_000), reader=reader)
    assert "row 1 (line 1): the row is longer than 1 MiB" in message, message
    assert elapsed < 3, elapsed


def test_a_header_wider_than_the_limit_is_refused(session, tmp_path):
    message, _elapsed = _refused(_wide_header(tmp_path / "wide.csv", 2_000))
    assert "row 1 (the header) has 2,000 columns; at most 1,000" in message, message


def test_a_row_wider_than_the_limit_is_refused_with_its_row(session, tmp_path):
    path = write_csv(tmp_path / "row.csv", ROWS)
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write(",".join(["e-9", "Commun", "Trop large"] + [""] * 500_000) + "\r\n")
    message, elapsed = _refused(path)
    assert "row 4" in message and "500,003 cells" in message, message
    assert elapsed < 3


def test_a_row_longer_than_the_limit_is_refused_with_its_row(session, tmp_path):
    path = write_csv(tmp_path / "long.csv", ROWS)
    with path.open("a", encoding="utf-8", newline="") as handle:
        cells = ["e-9", "Commun", "Trop long"] + ["x" * 10_000] * 200  # 2 MB, 203 cells
        handle.write(",".join(cells) + "\r\n")
    message, _elapsed = _refused(path, reader="process")
    assert "row 4" in message and "MiB" in message, message


def test_a_field_longer_than_the_limit_is_refused_with_its_row(session, tmp_path):
    path = write_csv(tmp_path / "field.csv",
                     [*ROWS, ["e-9", "Commun", "x" * 200_000, "", "", "", "", "", "", ""]])
    message, _elapsed = _refused(path)
    assert "row 4" in message and "131,072 characters" in message, message


@pytest.fixture(scope="module")
def cli_url(databases):
    from tests.conftest import make_app

    url = databases.demo("import_limits")
    app = make_app(url)
    return url, app


def _last_run(app) -> ImportRun:
    with app.app_context():
        try:
            run = db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
            db.session.expunge(run)
            return run
        finally:
            db.session.remove()


def test_the_command_line_reads_utf_16(cli_url, tmp_path):
    url, app = cli_url
    path = _encoded(tmp_path / "utf16.csv", _csv_text(ROWS), "utf-16")
    result = flask("import", "csv", str(path), "--mapping", str(MAPPING), url=url)
    assert result.returncode == 0, result.stderr
    assert "created: 2" in result.stdout
    assert _last_run(app).status == "finished"


@pytest.mark.parametrize("case", ["wide", "undecodable"])
def test_the_command_line_refuses_in_one_line(cli_url, tmp_path, case):
    url, app = cli_url
    if case == "wide":
        path = _wide_header(tmp_path / "wide.csv", 1_000_000)
    else:
        path = tmp_path / "bad.csv"
        path.write_bytes(_csv_text(ROWS).encode("cp1252") + b"e-3,Commun,Caf\x81,,,,,,,\r\n")
    start = time.monotonic()
    result = flask("import", "csv", str(path), "--mapping", str(MAPPING), "--reader",
                   "process", url=url)
    assert time.monotonic() - start < 30
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    run = _last_run(app)
    assert run.status == "failed" and run.error in lines[0]
    assert "nothing was written" in lines[0]
