"""Loaded by pytest before tests/conftest.py and before any module of the project.

The test run keeps compiled bytecode (__pycache__/, git-ignored) even when the
environment asks Python not to write it (PYTHONDONTWRITEBYTECODE=1, as container
images often set): otherwise every pytest process, xdist worker and `python -m` child
compiles the project's modules it imports again, and pytest rewrites the test files'
asserts again: up to 0.6 s of CPU per process (compiling all 394 files of app/,
importers/, tests/ and migrations/ takes 0.63 s). Children started by the tests still
inherit the variable: they write nothing, but read what this process wrote.
"""

import sys

sys.dont_write_bytecode = False
