# The README's commands. Each target installs what it needs, so a fresh clone needs only these.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint bench install clean

$(STAMP): pyproject.toml setup.cfg
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Start the local broker, load demo data, ingest the closed demo hours, open the Dagster UI.
dev: $(STAMP)
	bash scripts/dev.sh

## Lint, then run the whole test suite against a real broker, S3 endpoint and Postgres.
test: $(STAMP)
	$(BIN)/ruff check aggregator_assets aggregator_assets_tests benchmarks
	$(BIN)/ruff format --check aggregator_assets aggregator_assets_tests benchmarks
	$(BIN)/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check --fix aggregator_assets aggregator_assets_tests benchmarks
	$(BIN)/ruff format aggregator_assets aggregator_assets_tests benchmarks

## Speed and memory figures (not part of the tests).
bench: $(STAMP)
	$(BIN)/python benchmarks/ingest_benchmark.py
	$(BIN)/python benchmarks/window_stats_benchmark.py
	$(BIN)/python benchmarks/trip_summaries_benchmark.py

clean:
	rm -rf $(VENV) data .dagster_home
