"""A test module's databases are dropped when it ends (tests/conftest.py), the session's
kept: checked in a pytest session of its own, run here, with two modules."""

import json

pytest_plugins = ("pytester",)

CONFTEST = """
from tests.conftest import _databases_of_the_module, databases  # noqa: F401
"""

FIRST = """
import json, pathlib

def test_makes_a_database_and_keeps_another(databases):
    databases.create("module_made")
    databases.create("module_kept")
    databases.kept.add(databases.created[-1])
    pathlib.Path("made.json").write_text(json.dumps(databases.created))
"""

SECOND = """
import json, pathlib

def test_finds_only_the_kept_one(databases):
    made, kept = json.loads(pathlib.Path("made.json").read_text())
    conn = databases._admin()
    with conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname IN %s", ((made, kept),))
        there = {name for (name,) in cur.fetchall()}
    conn.close()
    pathlib.Path("there.json").write_text(json.dumps(sorted(there)))
"""


def test_a_modules_databases_are_dropped_at_its_end_but_the_kept_ones(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_a_first=FIRST, test_b_second=SECOND)
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "-p", "no:schemathesis",
                                          "-p", "no:anyio", "-p", "no:hypothesispytest")
    result.assert_outcomes(passed=2)
    made, kept = json.loads((pytester.path / "made.json").read_text())
    assert made.startswith("atlas_module_made_") and kept.startswith("atlas_module_kept_")
    assert json.loads((pytester.path / "there.json").read_text()) == [kept]
