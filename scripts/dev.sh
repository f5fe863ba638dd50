#!/usr/bin/env bash
# `make dev`: a local broker with demo data, the closed demo hours ingested, and `dagster dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PORT=${KAFKA_PORT:-9092}
HOURS=${DEMO_HOURS:-6}
export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$PORT
export LAKE_URL=${LAKE_URL:-$PWD/data/lake}
export DUCKDB_PATH=${DUCKDB_PATH:-$PWD/data/lake.duckdb}
export DAGSTER_HOME=${DAGSTER_HOME:-$PWD/.dagster_home}
mkdir -p "$DAGSTER_HOME" data
[ -f "$DAGSTER_HOME/dagster.yaml" ] || cp deploy/dagster.dev.yaml "$DAGSTER_HOME/dagster.yaml"

echo "==> starting the local Kafka-protocol broker on $KAFKA_BOOTSTRAP_SERVERS"
$BIN/aggregator-assets broker --port "$PORT" --log data/broker.log &
BROKER_PID=$!
trap 'kill $BROKER_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.2; done

echo "==> producing $HOURS backdated hours of demo data"
$BIN/aggregator-assets demo --bootstrap "$KAFKA_BOOTSTRAP_SERVERS" --hours "$HOURS" \
  --malformed 0.01 --late 0.02

echo "==> ingesting the closed demo hours (one ranged run per topic)"
$BIN/python scripts/materialize_demo_hours.py --hours "$HOURS"

echo "==> Dagster UI on http://127.0.0.1:${DAGSTER_PORT:-3000}"
$BIN/dagster dev -w workspace.yaml -h 127.0.0.1 -p "${DAGSTER_PORT:-3000}"
