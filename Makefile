# The two commands of the README: `make run` and `make test`.
# Both install what is missing (Python packages in .venv; PostgreSQL + PostGIS from
# Debian's packages when DATABASE_URL is unset) and start the local database.
# `make run` loads the Lille demo; `DEMO=0 make run` starts with an empty atlas.
# The app itself never starts a database: DATABASE_URL is given to it from here.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 5000
DEMO   ?= 1
# pytest-xdist workers of `make test`: three on the 2-core machine it is timed on, since
# about 15 % of two workers' time waits (servers, Chromium, subprocesses): warm, 3 min 54 s
# against 4 min 45 s, for the same CPU (2026-12-02, README).
TEST_WORKERS ?= 3
export FLASK_APP := app
# DATABASE_URL if set, else the local cluster's (started by the `database` target).
WITH_DB = DATABASE_URL="$${DATABASE_URL:-$$($(PY) -m app.localdb url)}"

.PHONY: run test install test-deps database migrate demo lint stop clean clean-data lock \
	catalogs-update \
	bench bench-map bench-open-data bench-exports bench-sync bench-fuzz bench-dump screenshots

$(VENV)/.installed: pyproject.toml setup.py scripts/system-deps.sh
	scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Interface translations: the .po files are the sources, the .mo files are built.
CATALOGS := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))

translations/%.mo: translations/%.po $(VENV)/.installed
	$(VENV)/bin/pybabel compile -i $< -o $@

install: $(VENV)/.installed $(CATALOGS)

# After adding interface strings: extract them, merge them into each catalog, translate.
catalogs-update: install
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k _lp:1c,2 --sort-output --no-location --width=100 \
		--ignore-dirs='.* var node_modules' -o translations/messages.pot .
	$(VENV)/bin/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --width=100 \
		--ignore-obsolete

# The local PostgreSQL + PostGIS under var/ (nothing to do when DATABASE_URL is set).
database: install
	@if [ -z "$$DATABASE_URL" ]; then $(PY) -m app.localdb start; \
	else echo "Using DATABASE_URL; no local database started."; fi

migrate: database
	$(WITH_DB) $(PY) -m flask db upgrade

# The demo load creates missing demo entries and updates only those nobody edited.
demo: migrate
	@if [ "$(DEMO)" = "0" ]; then echo "DEMO=0: no demo data loaded."; \
	else $(WITH_DB) $(PY) -m flask demo load; fi

run: demo
	@echo "Serving Atlas des communs on http://127.0.0.1:$(PORT)  (Ctrl-C to stop)"
	$(WITH_DB) ATLAS_DEMO_DATA=$(if $(filter 0,$(DEMO)),0,1) \
		$(VENV)/bin/gunicorn --workers 2 --threads 4 --bind 127.0.0.1:$(PORT) \
		--access-logfile - 'app.wsgi:app'

# Chromium and GDAL, driven by the browser and OGC API tests; nginx and systemd-analyze
# for the production test (tests/integration/test_production.py).
test-deps: install
	scripts/system-deps.sh test

lint: install
	$(PY) -m ruff check .

# Test files are shared out whole between the workers (--dist loadfile): a module's
# fixtures (a live server, a prepared database) are made once. In the order collected
# (tests/conftest.py: longest first), not pytest-xdist's default of most tests first,
# which sent the long files of few tests last and left one core idle at the end.
test: test-deps database lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Benchmarks run on demand, never in `make test` (bench/README.md).
bench: bench-map bench-open-data bench-exports bench-sync bench-dump

# Marker endpoint size and map drawing time in headless Chromium.
bench-map: test-deps database
	$(PY) bench/map_markers.py

# The README's screenshots (docs/screenshots/), from the demo data in a throwaway database.
screenshots: test-deps database
	$(PY) scripts/screenshots.py
	$(PY) scripts/screenshots_sheets.py

# 100,000 synthetic entries, our feeds against psql COPY
# and pygeoapi. pygeoapi lives in its own venv: it installs a top-level `tests` package
# that would shadow ours.
.venv-bench/.installed: pyproject.toml
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install --quiet --upgrade pip
	.venv-bench/bin/pip install --quiet -e '.[bench]'
	touch $@

bench-open-data: database .venv-bench/.installed
	.venv-bench/bin/python bench/open_data.py

# Every export format on 10,000 then 100,000 synthetic entries: time and peak memory.
bench-exports: database
	$(PY) bench/exports.py

# schemathesis, every phase (stateful included), 200 examples per operation, an editor's
# token on the write API: prints requests, server errors and failed checks.
bench-fuzz: database
	$(PY) bench/fuzz_api.py

# Export 50,000 synthetic entries as a data package, restore it with `flask import dump`.
bench-dump: database
	$(PY) bench/dump_restore.py

# Pull and push between three local instances (SYNC_ENTRIES synthetic entries).
SYNC_ENTRIES ?= 100000
bench-sync: database
	$(PY) bench/sync.py --entries $(SYNC_ENTRIES)

# requirements.lock: the versions a clean `pip install .` picks today, pinned, for
# reproducible production installs (`pip install -r requirements.lock atlas-communs-*.whl`).
lock:
	rm -rf var/lock-venv
	$(PYTHON) -m venv var/lock-venv
	var/lock-venv/bin/pip install --quiet --upgrade pip
	var/lock-venv/bin/pip install --quiet .
	{ echo "# Pinned runtime dependencies of atlas-communs (no test extras), for Python" \
	       "$$(var/lock-venv/bin/python -c 'import platform; print(platform.python_version())')."; \
	  echo "# Regenerate with: make lock   (a clean venv, pip install ., pip freeze)"; \
	  var/lock-venv/bin/pip freeze --exclude atlas-communs; } > requirements.lock
	rm -rf var/lock-venv build

stop: install
	$(PY) -m app.localdb stop

# The virtual environments and build files only: var/ holds the data (see clean-data).
clean:
	rm -rf $(VENV) .venv-bench build *.egg-info

# Deletes var/: the local database, its backups, the generated secret key. Asks first.
clean-data:
	@printf "Delete var/ (the local database, backups under var/backups, the secret key)? [y/N] "; \
	read answer; if [ "$$answer" = "y" ] || [ "$$answer" = "Y" ]; then \
		if [ -x $(PY) ]; then $(PY) -m app.localdb stop; fi; rm -rf var; echo "var/ deleted."; \
	else echo "Kept var/."; fi
