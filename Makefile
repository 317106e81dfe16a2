# The two commands: `make run` (whole system, embedded default) and `make test` (lint, types, tests).
SHELL := /bin/bash
PY ?= python3.11
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
VENV := .venv
STAMP := $(VENV)/.synced
RUN_PACKAGES := fonts-dejavu-core
TEST_PACKAGES := $(RUN_PACKAGES) chromium postgresql procps poppler-utils
PYTEST_ARGS ?=
# the suites that run a second time on PostgreSQL (DB=postgresql: tests/conftest.py's throwaway cluster): every
# suite that reads or writes the database (unit, replay and infra tests do not depend on the switch), in the order
# the SQLite pass takes them
PG_SUITES ?= tests/api tests/chaos tests/e2e tests/workflows
# run once, on SQLite: browser checks of markup only (axe on every page, the API docs page, the Temporal UI codec),
# which read nothing the database engine could change
PG_ONCE ?= --ignore=tests/e2e/test_every_page_a11y.py --ignore=tests/e2e/test_api_docs.py \
	--ignore=tests/e2e/test_temporal_ui_codec.py

.PHONY: run test test-sqlite test-postgres lint typecheck install bench chaos clean postgres

$(UV):
	$(PY) -m pip install --quiet --user uv==0.13.8 || $(PY) -m pip install --quiet --break-system-packages --user uv==0.13.8

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PY)
	touch $(STAMP)

install: $(STAMP)
	@scripts/ensure-system-packages.sh $(RUN_PACKAGES)

run: install
	$(VENV)/bin/ville dev

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: $(STAMP)
	@scripts/ensure-system-packages.sh $(TEST_PACKAGES)
	$(MAKE) --no-print-directory lint typecheck
	PG_SUITES="$(PG_SUITES)" PG_ONCE="$(PG_ONCE)" PYTEST_ARGS="$(PYTEST_ARGS)" scripts/test-both-databases.sh

# pytest exits 5 when it collected nothing: that fails here as any other non-zero code does.
# One pass alone: `make test-sqlite` (the whole suite) or `make test-postgres` (PG_SUITES with the chaos suite)
test-sqlite: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-postgres: $(STAMP)
	DB=postgresql CHAOS=1 $(VENV)/bin/pytest $(PG_SUITES) $(PG_ONCE) $(PYTEST_ARGS)

# a local PostgreSQL for `make run`: eval "$$(scripts/local-postgres.sh)" && make run (or: make postgres)
postgres:
	@scripts/ensure-system-packages.sh postgresql
	@scripts/local-postgres.sh

bench: install
	@scripts/ensure-system-packages.sh wrk
	$(VENV)/bin/python -m bench.run_all

chaos: install
	$(VENV)/bin/pytest tests/chaos -p no:cacheprovider -s

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
