"""Ingest speed against the raw limit: kafka-python's bare fetch vs our end-to-end ingest.

One run, one topic: the script starts the bundled broker (or uses --bootstrap), produces N
iot-events into a single event hour, then measures in fresh subprocesses, each with its own
peak RSS:
  bare     - kafka-python consumer polling every record, nothing else (the issue's raw limit);
  columnar - the same consumer with our columnar record decoding (ingest/columnar_fetch.py),
             nothing else: the raw limit of our own fetch path;
  ingest   - our raw asset's work: fetch, decode + validate (DuckDB), landing pieces, hour file.
Prints records/s of each, the ratios (target: ingest >= 0.7 of bare) and peak memory (target: a
3M-event hour under 1.5 GB, flat in the hour's size).

    .venv/bin/python benchmarks/ingest_benchmark.py --events 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

HOUR = datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
SIDES = {
    "bare": "kafka-python bare fetch",
    "columnar": "our columnar fetch only",
    "ingest": "our ingest, end to end",
}


@contextmanager
def kafka_bootstrap(bootstrap: str | None) -> Iterator[str]:
    """The given Kafka's bootstrap servers, or the bundled broker's, started for the block."""
    if bootstrap:
        yield bootstrap
        return
    from aggregator_assets.demo.broker import LocalBroker

    broker = LocalBroker().start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def _progress(done: int, total: int, started: float, what: str) -> None:
    rate = done / max(time.monotonic() - started, 1e-9)
    print(f"\r  {what}: {done:,}/{total:,} ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)


JSON_TEMPLATE = (
    '{"event_duration": %.3f, "device_type": "thermostat", "device_id": "dev-%04d",'
    ' "timestamp": "%s", "location": "building-%d", "value": %.4f, "unit": "C",'
    ' "battery_level": %d, "signal_strength": %d, "metadata": {"fw": "2.1.%d", "tags": ["a"]}}'
)


def event_time(i: int, events: int) -> datetime:
    """Event i of `events` spread evenly over the benchmark hour."""
    return HOUR + timedelta(seconds=i * 3600 / events)


def iso_ms(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def encode_json(i: int, at: datetime) -> bytes:
    fields = (i % 97 / 10, i % 500, iso_ms(at), i % 7, (i % 1000) / 7, i % 101, -40 - i % 70, i % 9)
    return (JSON_TEMPLATE % fields).encode()


def produce(
    bootstrap: str,
    topic: str,
    events: int,
    partitions: int,
    encode: Callable[[int, datetime], bytes] = encode_json,
    what: str = "producing",
) -> None:
    """Create `topic` and send `events` iot-events into one hour, each arriving 1.5 s late."""
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, partitions, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, batch_size=1 << 20)
    started = time.monotonic()
    for i in range(events):
        at = event_time(i, events)
        producer.send(
            topic,
            value=encode(i, at),
            key=b"dev-%04d" % (i % 500),
            timestamp_ms=int(at.timestamp() * 1000) + 1500,
        )
        if i % 50_000 == 0:
            _progress(i, events, started, what)
    producer.flush()
    producer.close()
    _progress(events, events, started, what)
    print(file=sys.stderr)


def run_bare(bootstrap: str, topic: str, events: int, as_columns: bool = False) -> dict:
    from kafka import KafkaConsumer, TopicPartition

    from aggregator_assets.ingest.columnar_fetch import columnar

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_bytes=64 << 20,
        max_partition_fetch_bytes=16 << 20,
    )
    if as_columns:
        columnar(consumer)  # poll() then returns chunks of records
    tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(tps)
    consumer.seek_to_beginning()
    started, seen = time.monotonic(), 0
    while seen < events:
        for items in consumer.poll(timeout_ms=1000, max_records=50_000).values():
            seen += sum(map(len, items)) if as_columns else len(items)
    return {"records": seen, "seconds": time.monotonic() - started}


def run_ingest(bootstrap: str, topic: str, events: int) -> dict:
    from aggregator_assets.config.loader import load_pipeline_config, parse_pipeline_config
    from aggregator_assets.lake import Lake
    from aggregator_assets.resources import KafkaResource

    demo = load_pipeline_config().model_dump(mode="json")
    iot = next(t for t in demo["topics"] if t["name"] == "iot-events") | {"name": topic}
    config = parse_pipeline_config({"partitions_start": "2026-11-01T00:00:00Z", "topics": [iot]})
    lake = Lake(tempfile.mkdtemp(prefix="bench-lake-"))
    return timed_ingest(KafkaResource(bootstrap_servers=bootstrap), lake, config, events)


def timed_ingest(kafka, lake, config, events: int, **services) -> dict:
    """Land the whole topic, then build the benchmark hour; seconds of each part."""
    from aggregator_assets.ingest.advance import advance_landing
    from aggregator_assets.ingest.hours import build_hour
    from aggregator_assets.ingest.landing import Landing, compute_cover

    topic = config.topics[0]
    landing = Landing(lake, topic.name)
    started = time.monotonic()
    with kafka.consumer() as consumer:
        advanced = advance_landing(consumer, landing, topic, config.partitions_start, **services)
    fetched = time.monotonic()
    hour = build_hour(lake, landing, topic, HOUR, compute_cover(landing.commits()))
    done = time.monotonic()
    assert advanced.records == events and hour.rows == events, (advanced.records, hour.rows)
    return {
        "records": hour.rows,
        "seconds": done - started,
        "landing_seconds": fetched - started,
        "hour_file_seconds": done - fetched,
    }


def _peak_rss_mb() -> float:
    """VmHWM of this process (ru_maxrss would include the parent's peak after fork+exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, bootstrap: str, topic: str, events: int) -> None:
    if mode == "ingest":
        result = run_ingest(bootstrap, topic, events)
    else:
        result = run_bare(bootstrap, topic, events, as_columns=mode == "columnar")
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))


def measure(mode: str, bootstrap: str, topic: str, events: int) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--bootstrap",
            bootstrap,
            "--topic",
            topic,
            "--events",
            str(events),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--bootstrap", help="use this Kafka instead of starting the bundled broker")
    parser.add_argument("--topic")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each side")
    parser.add_argument("--child", choices=list(SIDES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.bootstrap, args.topic, args.events)
        return

    topic = f"bench-{uuid.uuid4().hex[:8]}"
    with kafka_bootstrap(args.bootstrap) as bootstrap:
        print(f"{args.events:,} iot-events in one hour, {args.partitions} partitions, {bootstrap}")
        produce(bootstrap, topic, args.events, args.partitions)
        runs: dict[str, list[dict]] = {side: [] for side in SIDES}
        for i in range(args.repeat):  # alternate, so machine noise hits every side alike
            print(f"  round {i + 1}/{args.repeat}: {', '.join(SIDES)}", file=sys.stderr)
            for side in SIDES:
                runs[side].append(measure(side, bootstrap, topic, args.events))
    rates = {side: sorted(r["records"] / r["seconds"] for r in runs[side]) for side in SIDES}
    best, median = (
        {s: r[-1] for s, r in rates.items()},
        {s: r[len(r) // 2] for s, r in rates.items()},
    )
    print(f"load average: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    for side, label in SIDES.items():
        peak = max(r["peak_rss_mb"] for r in runs[side])
        print(
            f"{label:<24}: best {best[side]:>9,.0f} records/s, median {median[side]:>9,.0f}"
            f"  peak RSS {peak:,.0f} MB"
        )
    fastest = max(runs["ingest"], key=lambda r: r["records"] / r["seconds"])
    print(
        f"  (best ingest run: landing {fastest['landing_seconds']:.1f}s,"
        f" hour file {fastest['hour_file_seconds']:.1f}s)"
    )
    for base in ("bare", "columnar"):
        print(
            f"ratio ingest/{base}: best {best['ingest'] / best[base]:.2f},"
            f" median {median['ingest'] / median[base]:.2f}"
            + ("  (target >= 0.70)" if base == "bare" else "  (cost of decode, validate, write)")
        )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
