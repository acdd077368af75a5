# Qianshu — two commands do all set-up: `make run` and `make test` (see README).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# `make run` is a local development start: debug on, SQLite and local files under var/.
RUN_ENV := QIANSHU_DEBUG=1 QIANSHU_PUBLIC_URL=http://$(HOST):$(PORT)

.PHONY: run test lint types contracts jstest pytest bench install system-deps system-deps-test system-deps-bench clean messages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

system-deps:
	./scripts/system-deps.sh

system-deps-test:
	./scripts/system-deps.sh test

system-deps-bench:
	./scripts/system-deps.sh bench

run: system-deps $(STAMP)
	$(RUN_ENV) $(BIN)/qianshu migrate --noinput -v0
	$(RUN_ENV) $(BIN)/qianshu init-pki --if-absent
	$(RUN_ENV) $(BIN)/qianshu demo-data --if-absent
	$(RUN_ENV) $(BIN)/qianshu demo-envelopes --if-absent
	$(RUN_ENV) $(BIN)/qianshu demo-employment --if-absent
	@echo ""
	@echo "Qianshu is starting at http://$(HOST):$(PORT)/  (Ctrl-C stops the web server and the worker)"
	@echo ""
	@trap 'kill 0' EXIT INT TERM; \
	  $(RUN_ENV) $(BIN)/qianshu db_worker --queue-name '*' & \
	  $(RUN_ENV) $(BIN)/qianshu envelope-timers --loop & \
	  $(RUN_ENV) $(BIN)/qianshu runserver $(HOST):$(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks clients examples
	$(BIN)/ruff format --check src tests benchmarks clients examples

# The example procurement system is checked on its own Django settings (examples/procurement_mis/mypy.ini).
types: $(STAMP)
	$(BIN)/mypy
	cd examples/procurement_mis && ../../$(BIN)/mypy --config-file mypy.ini

contracts: $(STAMP)
	$(BIN)/lint-imports

# Unit tests of the browser modules (geometry, field editor and signing page state) with Node's own
# test runner; register-static.mjs finds a module in any app's static/ as the browser does.
jstest:
	node --import ./tests/js/register-static.mjs --test tests/js/*.test.mjs

# The suite runs in one process per core (pytest-xdist; PYTEST_WORKERS=0 runs it in this one).
PYTEST_WORKERS ?= auto

pytest: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test: system-deps-test $(STAMP) lint types contracts jstest
	PYTHONPATH=. $(BIN)/qianshu makemigrations --check --dry-run -v0 --settings=tests.settings
	$(BIN)/pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

bench: system-deps-bench $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# Refresh the English catalogue from the Chinese source strings, then compile it (needs gettext).
messages: $(STAMP)
	cd src/qianshu && ../../$(BIN)/django-admin makemessages -l en --no-obsolete --no-location \
	  --ignore 'signing/*' --ignore 'migrations/*'
	cd src/qianshu && ../../$(BIN)/django-admin compilemessages -l en

clean:
	rm -rf $(VENV) var artifacts .pytest_cache .mypy_cache .ruff_cache
