# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# The locks, every package pinned with its hashes (`make lock` refreshes them): pip and the
# build backend; what production runs (the Dockerfile); that and the test and lint tools.
BUILD_LOCK   := requirements/build.txt
RUNTIME_LOCK := requirements/runtime.txt
DEV_LOCK     := requirements/dev.txt

.PHONY: install lock demo test test-sqlite lint format bench bench-quick bench-matching clean translations

# The build tools go in first and every build uses them (--no-build-isolation): otherwise pip
# would fetch an unpinned setuptools to build a dependency published only as source (zhconv).
$(STAMP): pyproject.toml $(BUILD_LOCK) $(DEV_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(BUILD_LOCK)
	$(BIN)/python -m pip install --quiet --require-hashes --no-build-isolation -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

## Rewrite the locks after a change to pyproject.toml, keeping every pin it does not force to move.
## LOCK_ARGS=--upgrade moves them all to the newest allowed, LOCK_ARGS='--upgrade-package NAME' one.
## The dev lock constrains the runtime lock, so tests run on the versions production installs.
LOCK := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command 'make lock' $(LOCK_ARGS)
BUILD_REQUIRES := import tomllib; \
	print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], "pip", sep="\n")
lock: $(STAMP)
	$(BIN)/python -c '$(BUILD_REQUIRES)' | $(LOCK) - -o $(BUILD_LOCK)
	$(LOCK) pyproject.toml --extra dev -c $(BUILD_LOCK) -o $(DEV_LOCK)
	$(LOCK) pyproject.toml -c $(DEV_LOCK) -o $(RUNTIME_LOCK)
	$(LOCK) $(MATCHING_REQUIREMENTS:.txt=.in) -c $(DEV_LOCK) -o $(MATCHING_REQUIREMENTS)

## Migrate the SQLite database under var/, load the demo dataset (once) and serve on :8000.
demo: $(STAMP)
	$(BIN)/creditreg demo

## The whole suite: SQLite always; PostgreSQL too when CREDITREG_TEST_DATABASE_URL is set.
## On every core (pytest-xdist), four workers at most: each worker has its own PostgreSQL
## test database and starts the engine nodes its tests need (a JVM of about 1 GB at a time).
## TEST_WORKERS=0: serially, in one process.
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(min(4, os.cpu_count() or 1))')
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Page strings: extract them, merge them into the catalogues, compile (.po and .mo are committed).
## The domain's exceptions (and its Worded texts) are keywords too: the console shows a refusal's
## constant text (their first argument) in the page's language; the API answers it in English.
REFUSALS = -k RegistryError -k NotFound -k Conflict -k InvalidInput -k Forbidden -k Worded
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg $(REFUSALS) --no-location --sort-output \
		-o admin/translations/messages.pot .
	$(BIN)/pybabel update -i admin/translations/messages.pot -d admin/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d admin/translations

bench: $(STAMP)
	$(BIN)/python bench/seed.py

## The peers of the matching evaluation (bench/matching/evaluate.py) into .venv: nomenklatura
## (OpenSanctions' yente algorithms) and rapidfuzz, pinned against the dev lock so no test's
## version moves. Bench-only: `make test` never installs them. PyICU builds from source
## (needs pkg-config, libicu-dev and a C++ compiler).
MATCHING_REQUIREMENTS := bench/matching/requirements.txt
bench-matching: $(STAMP)
	$(BIN)/python -m pip install --quiet --require-hashes --no-build-isolation -r $(MATCHING_REQUIREMENTS)

## The intake's ratios in under 2 minutes: SQLite, and PostgreSQL too when
## CREDITREG_BENCH_ADMIN_URL is set (e.g. postgresql+psycopg://postgres:PASSWORD@127.0.0.1:5432/postgres).
bench-quick: $(STAMP)
	$(BIN)/python bench/quick.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache *.egg-info
