# The README's commands. Each target installs what it needs, so a fresh clone needs only these.
# Installs are exactly the locked set (uv.lock, `uv sync --frozen`); uv itself is bootstrapped
# from PyPI into .uv/ when it is not on PATH.
PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV := $(shell command -v uv 2>/dev/null || echo .uv/bin/uv)
LINTED := aggregator_assets aggregator_assets_tests benchmarks scripts

.PHONY: dev test lint bench install upgrade clean bytecode

.uv/bin/uv:
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(STAMP): pyproject.toml uv.lock
	@test -x "$(UV)" || $(MAKE) --no-print-directory .uv/bin/uv
	$(UV) sync --quiet --frozen --extra test --compile-bytecode
	touch $(STAMP)

# Bytecode of the project's own modules (editable install). Every process that loads the code
# location (daemon, code server, each run) otherwise compiles it from source when the machine
# forbids writing bytecode at import (PYTHONDONTWRITEBYTECODE): docs/operations.md.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q aggregator_assets

install: $(STAMP)

## Start the local broker, load demo data, ingest the demo hours, open the Dagster UI.
dev: $(STAMP) bytecode
	bash scripts/dev.sh

## Lint, then run the whole test suite against a real broker, S3 endpoint and Postgres.
test: $(STAMP) bytecode
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check --fix $(LINTED)
	$(BIN)/ruff format $(LINTED)

## Re-lock to the newest versions pyproject.toml allows, show what changed, run the suite on them.
upgrade:
	@test -x "$(UV)" || $(MAKE) --no-print-directory .uv/bin/uv
	cp uv.lock .uv.lock.before
	$(UV) lock --upgrade
	$(UV) run --no-sync python scripts/lock_diff.py .uv.lock.before uv.lock || true
	rm -f .uv.lock.before
	$(MAKE) test

## Speed and memory figures (not part of the tests).
bench: $(STAMP) bytecode
	$(BIN)/python benchmarks/ingest_benchmark.py
	$(BIN)/python benchmarks/window_stats_benchmark.py
	$(BIN)/python benchmarks/trip_summaries_benchmark.py
	$(BIN)/python benchmarks/year_benchmark.py

clean:
	rm -rf $(VENV) .uv data .dagster_home
