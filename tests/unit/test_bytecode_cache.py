"""The test run keeps the compiled bytecode of the project's modules between runs, even
where the environment says not to write it (PYTHONDONTWRITEBYTECODE=1, as in this
machine's image): without it each pytest process, worker and `python -m` child compiled
the modules it imports and re-rewrote the test files (up to 0.6 s of CPU per process)."""

import importlib.util
import sys
from pathlib import Path

import app.services.entries
import tests.support.importer


def test_the_project_modules_are_loaded_from_bytecode_kept_on_disk():
    assert sys.dont_write_bytecode is False
    for module in (app.services.entries, tests.support.importer):
        cached = importlib.util.cache_from_source(module.__file__)
        assert Path(cached).is_file(), f"{module.__name__}: no {cached}"


def test_the_test_files_are_kept_rewritten_by_pytest():
    """pytest's rewritten test modules (assert introspection) are kept too."""
    folder = Path(__file__).parent / "__pycache__"
    tag = sys.implementation.cache_tag
    assert list(folder.glob(f"test_bytecode_cache.{tag}-pytest-*.pyc"))
