#!/usr/bin/env bash
# `make dev`: a local broker with demo data, the closed demo hours ingested, and `dagster dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PORT=${KAFKA_PORT:-9092}
HOURS=${DEMO_HOURS:-6}
RATE=${DEMO_RATE:-50}
# A day of trip summaries reads the day before and the lookahead after it (the daily -> hourly
# mapping spans three days), so the vehicle demo reaches further back, at a low rate.
VEHICLE_HOURS=${DEMO_VEHICLE_HOURS:-76}
VEHICLE_RATE=${DEMO_VEHICLE_RATE:-2}
export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$PORT
export LAKE_URL=${LAKE_URL:-$PWD/data/lake}
export DUCKDB_PATH=${DUCKDB_PATH:-$PWD/data/lake.duckdb}
export DAGSTER_HOME=${DAGSTER_HOME:-$PWD/.dagster_home}
BROKER_LOG=${BROKER_LOG:-data/broker.log}
mkdir -p "$DAGSTER_HOME" "$(dirname "$BROKER_LOG")" "$(dirname "$DUCKDB_PATH")"
[ -f "$DAGSTER_HOME/dagster.yaml" ] || cp deploy/dagster.dev.yaml "$DAGSTER_HOME/dagster.yaml"

echo "==> starting the local Kafka-protocol broker on $KAFKA_BOOTSTRAP_SERVERS"
$BIN/aggregator-assets broker --port "$PORT" --log "$BROKER_LOG" &
BROKER_PID=$!
trap 'kill $BROKER_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.2; done
sleep 0.5
kill -0 "$BROKER_PID" 2>/dev/null || {
  echo "the broker did not start (port $PORT in use? try KAFKA_PORT=9093); see $BROKER_LOG" >&2
  exit 1
}

echo "==> producing $HOURS backdated hours of IoT and observatory demo data at $RATE events/s"
$BIN/aggregator-assets demo --bootstrap "$KAFKA_BOOTSTRAP_SERVERS" --hours "$HOURS" --rate "$RATE" \
  --topics iot-events observatory.telemetry --malformed 0.01 --late 0.02
echo "==> producing $VEHICLE_HOURS backdated hours of vehicle demo data at $VEHICLE_RATE events/s"
$BIN/aggregator-assets demo --bootstrap "$KAFKA_BOOTSTRAP_SERVERS" --hours "$VEHICLE_HOURS" \
  --rate "$VEHICLE_RATE" --topics vehicle-can --malformed 0.01 --late 0.02

echo "==> ingesting the closed demo hours (one ranged run per partitions definition)"
$BIN/python scripts/materialize_demo_hours.py --hours "$(( HOURS > VEHICLE_HOURS ? HOURS : VEHICLE_HOURS ))"

echo "==> Dagster UI on http://127.0.0.1:${DAGSTER_PORT:-3000}"
$BIN/dagster dev -w workspace.yaml -h 127.0.0.1 -p "${DAGSTER_PORT:-3000}"
