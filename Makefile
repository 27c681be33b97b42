# huzhu — two commands for a fresh machine: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/huzhu
export TEST_DATABASE_URL

.PHONY: demo test setup system-deps lint typecheck test-sqlite test-postgres messages serve clean bench

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is required ($(PY) not found)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/python manage.py compilemessages --ignore=.venv -v 0

## make demo: set up, migrate, load the demo community, serve on http://127.0.0.1:8000
demo: setup
	mkdir -p var
	$(BIN)/python manage.py migrate --no-input -v 0
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py runserver 127.0.0.1:8000

## make test: set up, then lint, type-check and run the whole suite on SQLite and PostgreSQL
test: system-deps setup lint typecheck test-sqlite test-postgres

system-deps:
	@bash scripts/system-deps.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy huzhu config

# Each half writes its logs to test-output/logs/suite-<db>.log (HUZHU_LOG_FILE) and then
# scans them: a plaintext phone or ID number in them fails the run (huzhu/core/logscan.py).
test-sqlite: setup
	mkdir -p test-output/logs && rm -f test-output/logs/suite-sqlite.log
	env -u DATABASE_URL HUZHU_LOG_FILE=test-output/logs/suite-sqlite.log \
		$(BIN)/pytest -p no:cacheprovider --cov --cov-report=term:skip-covered \
		--cov-report=xml:test-output/coverage-sqlite.xml
	$(BIN)/python -m huzhu.core.logscan test-output/logs/suite-sqlite.log

test-postgres: setup
	mkdir -p test-output/logs && rm -f test-output/logs/suite-postgres.log
	HUZHU_LOG_FILE=test-output/logs/suite-postgres.log bash scripts/test-postgres.sh
	@# no log file: PostgreSQL was unreachable and that half was skipped (reported above)
	if [ -f test-output/logs/suite-postgres.log ]; then \
		$(BIN)/python -m huzhu.core.logscan test-output/logs/suite-postgres.log; fi

## make messages: refresh the translation catalogue after changing user-facing strings
messages: setup
	$(BIN)/python manage.py makemessages -l en --ignore=.venv --ignore=var --ignore=tests --ignore='huzhu/*/tests' --ignore=bench --ignore=scripts --no-location --no-obsolete
	$(BIN)/python manage.py compilemessages --ignore=.venv -v 0

## make bench: the performance targets of ARCHITECTURE.md on PostgreSQL (BENCH_DATABASE_URL,
## default postgres://postgres@127.0.0.1:5432/huzhu_bench), e.g. BENCH_ARGS="--only P6 --scale 0.1"
BENCH_ARGS ?=
bench: setup
	$(BIN)/python -m bench "$(BENCH_ARGS)"

clean:
	rm -rf $(VENV) var test-output .coverage
