#!/usr/bin/env bash
# `make dev`: broker, demo data, the demo hours ingested, then the Dagster UI (see
# aggregator_assets/demo/stack.py for the phases and settings).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m aggregator_assets.demo.stack
