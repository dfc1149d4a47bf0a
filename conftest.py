"""Loaded by pytest before tests/conftest.py and before any module of the project.

The test run keeps compiled bytecode (__pycache__/, git-ignored) even when the
environment asks Python not to write it (PYTHONDONTWRITEBYTECODE=1, as container
images often set): otherwise every pytest process, xdist worker and `python -m` child
compiles the project's ~290 modules again, and pytest rewrites every test file's
asserts again, about 1.3 s of CPU per process. Children started by the tests still
inherit the variable: they write nothing, but read what this process wrote.
"""

import sys

sys.dont_write_bytecode = False
