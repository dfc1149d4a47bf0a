"""Files read and validated in a child process while the pipeline writes: the same
results as in-process, errors with their row, Ctrl-C leaves the base as it was, and
no child is left running."""

from __future__ import annotations

import csv
import os
import signal
import time

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Entry, ImportRun
from importers.csv_reader import CsvFileError
from importers.mapping import load_csv_mapping, load_osm_mapping
from importers.osm_files import read_osm_file
from importers.pipeline import ImportFailed, Pipeline, RunOptions
from importers.prepare import prepare_batch, read_batches
from importers.reader_process import prepared_in_child
from importers.records import Candidate
from importers.sources import CsvFile, OsmFile
from tests.conftest import make_app
from tests.support.importer import (
    DATA,
    HEADER,
    MAPPING,
    cut_csv,
    grid_rows,
    items_of,
    run_import,
    table_counts,
    write_csv,
)
from tests.support.processes import Forked, child_pids, is_running

FIXTURE = DATA / "lille-fixture.osm"


def _mixed_rows() -> list[list[str]]:
    """Created, rejected, warned, twins within the file, a key repeated across batches."""
    return [
        ["p-1", "Tiers-lieu", "La Grappe", "1 rue A", "59000", "Lille", "50.6300", "3.0600",
         "", "coworking"],
        ["p-2", "Tiers-lieu", "Sans position", "", "", "", "", "", "", ""],
        ["p-3", "Commun", "Site faux", "", "", "", "", "", "http://", ""],
        ["p-4", "Tiers-lieu", "La Grappe bis", "", "", "", "50.6300", "3.0601", "", ""],
        ["p-5", "Soucoupe", "Genre inconnu", "", "", "", "", "", "", ""],
        ["p-6", "Initiative", "Réparer à Fives", "", "59800", "Lille", "", "", "", "réparation"],
        ["p-1", "Commun", "Clé répétée", "", "", "", "", "", "", ""],
        ["p-8", "Commun", "Jardin du Nord", "", "", "", "", "", "www.nord.example.org", ""],
    ]


def _same(report: list[dict]) -> list[tuple]:
    return sorted((i["kind"], i.get("row"), i.get("field"), i["reason"]) for i in report)


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_a_child_prepares_the_same_batches_as_the_thread(tmp_path, method):
    path = write_csv(tmp_path / "mixed.csv", _mixed_rows())
    source = CsvFile(path, load_csv_mapping(MAPPING))
    here = [prepare_batch(batch, advanced) for batch, advanced in read_batches(source, 3)]
    there = list(prepared_in_child(source, 3, method))
    assert [(b.size, b.advanced) for b in there] == [(b.size, b.advanced) for b in here]
    assert sum(b.advanced for b in there) == path.stat().st_size
    assert [[c.data for c in b.candidates] for b in there] == \
        [[c.data for c in b.candidates] for b in here]
    assert [[p.as_dict() for p in b.problems] for b in there] == \
        [[p.as_dict() for p in b.problems] for b in here]


def test_a_csv_read_in_a_child_process_imports_like_one_read_in_a_thread(session, tmp_path):
    path = write_csv(tmp_path / "mixed.csv", _mixed_rows())
    mapping = load_csv_mapping(MAPPING)
    before = table_counts()
    rehearsal = run_import(mapping, CsvFile(path, mapping), reader="thread", dry_run=True,
                           batch_size=3)
    assert table_counts() == before
    result = run_import(mapping, CsvFile(path, mapping), reader="process", batch_size=3)
    assert result.counts == rehearsal.counts
    assert _same(result.report) == _same(rehearsal.report)
    assert result.counts["created"] == 4 and result.counts["duplicates"] == 1
    assert {r["row"] for r in items_of(result.report, "rejected")} == {3, 6, 8}
    assert table_counts()["entries"] == before["entries"] + 4


def test_a_process_dry_run_writes_nothing(session, tmp_path):
    path = write_csv(tmp_path / "mixed.csv", _mixed_rows())
    mapping = load_csv_mapping(MAPPING)
    before = table_counts()
    result = run_import(mapping, CsvFile(path, mapping), reader="process", dry_run=True)
    assert result.counts["created"] == 4
    assert table_counts() == before
    assert result.run.status == "dry run"


def test_an_osm_file_read_in_a_child_process(session):
    mapping = load_osm_mapping()
    said: list[str] = []
    rehearsal = run_import(mapping, OsmFile(FIXTURE, mapping), reader="thread", dry_run=True)
    result = Pipeline(mapping, RunOptions(reader="process"),
                      notify=said.append).run(OsmFile(FIXTURE, mapping))
    selected = sum(1 for i in read_osm_file(FIXTURE, mapping) if isinstance(i, Candidate))
    assert result.counts == rehearsal.counts and result.counts["created"] > 0
    assert len(said) == 1 and f"{selected} selected" in said[0], said


def test_a_file_cut_inside_a_quoted_field_fails_with_its_row(session, tmp_path):
    path = cut_csv(tmp_path)
    mapping = load_csv_mapping(MAPPING)
    before = table_counts()
    with pytest.raises(ImportFailed) as failure:
        run_import(mapping, CsvFile(path, mapping), reader="process", batch_size=2)
    cause = failure.value.__cause__
    assert isinstance(cause, CsvFileError)
    assert "row 7 (line 7)" in str(cause) and "ends inside a quoted field" in str(cause)
    assert table_counts() == before
    assert failure.value.run.status == "failed" and failure.value.run.created == 0


def test_a_bad_header_fails_before_any_write(session, tmp_path):
    header = [h for h in HEADER if h != "Nom"]
    path = write_csv(tmp_path / "no-name.csv", [["x-1", "Commun", "", "", "", "", "", "",
                                                  ""]], header=header)
    mapping = load_csv_mapping(MAPPING)
    before = table_counts()
    with pytest.raises(ImportFailed) as failure:
        run_import(mapping, CsvFile(path, mapping), reader="process")
    assert isinstance(failure.value.__cause__, CsvFileError)
    assert "lacks the column(s) 'Nom'" in str(failure.value.__cause__)
    assert table_counts() == before


def test_a_closed_reader_leaves_no_child(tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        writer.writerows(grid_rows(20_000, "z"))
    reader = prepared_in_child(CsvFile(path, load_csv_mapping(MAPPING)), 100, "fork")
    pid = reader.child.pid
    batches = iter(reader)
    assert next(batches).size == 100
    reader.close()  # as the pipeline does on an error or Ctrl-C: long before the end
    assert not is_running(pid)


def test_ctrl_c_during_a_command_line_import(databases, tmp_path):
    """`flask import csv` interrupted as a terminal does (SIGINT to the process group):
    nothing written, the run recorded as interrupted, the reading process gone."""
    url = databases.demo("import_interrupt")
    app = make_app(url)
    with app.app_context():
        entries_before = db.session.scalar(select(func.count()).select_from(Entry))
        db.session.remove()
        db.engine.dispose()
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        writer.writerows(grid_rows(60_000, "i"))
    # A process of its own, leading its group as a terminal's job does, with Python's own
    # SIGINT handler (a test run started in the background by a shell without job control
    # inherits SIGINT ignored): a fork running `flask`, not a new interpreter, whose start
    # is not what is tested here (tests/support/processes.py).
    command = Forked("import", "csv", str(path), "--mapping", str(MAPPING),
                     "--reader", "process", "--batch-size", "500", url=url, new_session=True)
    try:
        children: set[int] = set()
        deadline = time.monotonic() + 60
        while not children and time.monotonic() < deadline and command.poll() is None:
            time.sleep(0.05)
            children = child_pids(command.pid)
        assert children, "the reading process never started"
        time.sleep(1.0)  # some batches written (uncommitted)
        assert command.poll() is None, "the import ended before it could be interrupted"
        os.killpg(command.pid, signal.SIGINT)
        _out, err = command.communicate(timeout=60)
    finally:
        if command.poll() is None:
            os.killpg(command.pid, signal.SIGKILL)
            command.wait()
    assert command.returncode != 0
    assert "Traceback" not in err, err
    assert not any(is_running(pid) for pid in children)
    with app.app_context():
        try:
            assert db.session.scalar(select(func.count()).select_from(Entry)) == \
                entries_before
            last = db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
            assert last.status == "interrupted" and last.created == 0
        finally:
            db.session.remove()
            db.engine.dispose()

