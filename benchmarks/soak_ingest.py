"""Soak: ingest millions of events spread over many hours in one process, watching memory.

The script starts the bundled broker (or uses --bootstrap), produces N iot-events spread evenly
over H event hours (with late, out-of-order and invalid records mixed in), then ingests them in
one fresh subprocess, the way a ranged backfill run does: land every record once
(`advance_landing`), then build each hour file (`build_hour`). The child samples its RSS after
every landed slice and every hour built and reports:
  - events/s for landing, hour building and overall;
  - peak memory (VmHWM) and the RSS trend over the hours (first vs last quarter);
  - that raw + quarantine rows equal what was produced (nothing lost, nothing doubled).

    .venv/bin/python benchmarks/soak_ingest.py --events 5000000 --hours 72
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone

from ingest_benchmark import kafka_bootstrap

START = datetime(2026, 11, 1, tzinfo=timezone.utc)
FIRST_HOUR = datetime(2026, 11, 20, tzinfo=timezone.utc)
TEMPLATE = (
    '{"event_duration": %.3f, "device_type": "thermostat", "device_id": "dev-%04d",'
    ' "timestamp": "%s", "location": "building-%d", "value": %.4f, "unit": "C",'
    ' "battery_level": %d, "signal_strength": %d, "metadata": {"fw": "2.1.%d", "tags": ["a"]}}'
)


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def produce(bootstrap: str, topic: str, events: int, hours: int, partitions: int) -> dict:
    """Send `events` records over `hours` hours: ~1% invalid, ~2% late by 2h, ~5% out of order."""
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, partitions, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, batch_size=1 << 20)
    step_ms = hours * 3_600_000 / events
    base_ms = int(FIRST_HOUR.timestamp() * 1000)
    invalid, cached_second, prefix = 0, -1, ""
    started = time.monotonic()
    for i in range(events):
        event_ms = base_ms + int(i * step_ms)
        arrival_ms = event_ms + 1500
        if i % 50 == 7:
            arrival_ms = event_ms + 2 * 3_600_000  # late
        elif i % 20 == 11:
            event_ms -= 60_000  # out of order within the lateness
        if i % 100 == 42:
            value = b'{"device_id": "dev-0001", "timestamp": "not a time"'
            invalid += 1
        else:
            second = event_ms // 1000
            if second != cached_second:
                cached_second = second
                prefix = datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
            stamp = f"{prefix}.{event_ms % 1000:03d}Z"
            value = (
                TEMPLATE
                % (i % 97 / 10, i % 500, stamp, i % 7, (i % 1000) / 7, i % 101, -40 - i % 70, i % 9)
            ).encode()
        producer.send(
            topic,
            value=value,
            key=b"dev-%04d" % (i % 500),
            timestamp_ms=arrival_ms,
            partition=i % partitions,
        )
        if i % 100_000 == 0:
            rate = i / max(time.monotonic() - started, 1e-9)
            print(f"\r  producing {i:,}/{events:,} ({rate:,.0f}/s)", end="", file=sys.stderr)
    producer.flush()
    producer.close()
    seconds = time.monotonic() - started
    print(f"\r  produced {events:,} in {seconds:.0f}s ({events / seconds:,.0f}/s)", file=sys.stderr)
    return {"produced": events, "invalid": invalid, "produce_seconds": seconds}


def run_ingest(bootstrap: str, topic: str, hours: int) -> dict:
    from aggregator_assets.config.loader import load_pipeline_config, parse_pipeline_config
    from aggregator_assets.ingest.advance import advance_landing
    from aggregator_assets.ingest.hours import build_hour
    from aggregator_assets.ingest.landing import Landing, compute_cover
    from aggregator_assets.lake import Lake
    from aggregator_assets.resources import KafkaResource

    demo = load_pipeline_config().model_dump(mode="json")
    iot = next(t for t in demo["topics"] if t["name"] == "iot-events") | {"name": topic}
    config = parse_pipeline_config({"partitions_start": START.isoformat(), "topics": [iot]})
    lake = Lake(tempfile.mkdtemp(prefix="soak-lake-"))
    landing = Landing(lake, topic)
    kafka = KafkaResource(bootstrap_servers=bootstrap)
    slice_rss_mb: list[float] = []
    started = time.monotonic()

    def landed_slice(commit) -> None:
        slice_rss_mb.append(_status_kb("VmRSS") / 1024)
        done = sum(c.slice.end - c.slice.start for c in advanced_so_far) + (
            commit.slice.end - commit.slice.start
        )
        advanced_so_far.append(commit)
        rate = done / max(time.monotonic() - started, 1e-9)
        print(f"\r  landed {done:,} records ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)

    advanced_so_far: list = []
    with kafka.consumer() as consumer:
        advanced = advance_landing(
            consumer,
            landing,
            config.topics[0],
            config.partitions_start,
            on_slice=landed_slice,
        )
    landed = time.monotonic()
    print(file=sys.stderr)
    cover = compute_cover(landing.commits())
    hour_rss_mb: list[float] = []
    rows = quarantined = late = 0
    # Late records land up to 2 hours after the last event hour's arrival: cover those too.
    for h in range(-1, hours + 1):
        result = build_hour(lake, landing, config.topics[0], FIRST_HOUR + timedelta(hours=h), cover)
        rows += result.rows
        late += result.late_rows
        quarantined += sum(result.quarantined.values())
        hour_rss_mb.append(_status_kb("VmRSS") / 1024)
        print(f"\r  built hour {h + 2}/{hours + 2}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    done = time.monotonic()
    quarter = max(len(hour_rss_mb) // 4, 1)
    return {
        "fetched": advanced.records,
        "slices": len(advanced.commits),
        "raw_rows": rows,
        "quarantined": quarantined,
        "late_rows": late,
        "landing_seconds": landed - started,
        "hours_seconds": done - landed,
        "seconds": done - started,
        "peak_rss_mb": _status_kb("VmHWM") / 1024,
        "rss_first_quarter_mb": sum(hour_rss_mb[:quarter]) / quarter,
        "rss_last_quarter_mb": sum(hour_rss_mb[-quarter:]) / quarter,
        "rss_per_slice_mb": [round(x) for x in slice_rss_mb],
        "rss_per_hour_mb": [round(x) for x in hour_rss_mb],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--hours", type=int, default=72)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--bootstrap", help="use this Kafka instead of starting the bundled broker")
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_ingest(args.bootstrap, args.topic, args.hours)))
        return

    topic = f"soak-{uuid.uuid4().hex[:8]}"
    with kafka_bootstrap(args.bootstrap) as bootstrap:
        print(f"{args.events:,} events over {args.hours} hours, {args.partitions} partitions")
        sent = produce(bootstrap, topic, args.events, args.hours, args.partitions)
        command = [sys.executable, __file__, "--child", "--bootstrap", bootstrap, "--topic", topic]
        child = subprocess.run(
            [*command, "--hours", str(args.hours)],
            check=True,
            stdout=subprocess.PIPE,  # the child's progress (stderr) shows live
            text=True,
        )
        out = json.loads(child.stdout.strip().splitlines()[-1])
    accounted = out["raw_rows"] + out["quarantined"]
    print(f"load average: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    print(
        f"ingest: {out['fetched']:,} events in {out['seconds']:.0f}s ="
        f" {out['fetched'] / out['seconds']:,.0f} events/s (landing {out['landing_seconds']:.0f}s"
        f" in {out['slices']} slices, {args.hours + 2} hour files {out['hours_seconds']:.0f}s)"
    )
    print(
        f"memory: peak (VmHWM) {out['peak_rss_mb']:,.0f} MB; RSS while building hours:"
        f" first quarter {out['rss_first_quarter_mb']:,.0f} MB, last quarter"
        f" {out['rss_last_quarter_mb']:,.0f} MB"
    )
    print(f"RSS per hour built (MB): {out['rss_per_hour_mb']}")
    print(f"RSS per slice landed (MB): {out['rss_per_slice_mb']}")
    print(
        f"accounted: raw {out['raw_rows']:,} + quarantine {out['quarantined']:,} = {accounted:,}"
        f" of {sent['produced']:,} produced ({sent['invalid']:,} invalid sent);"
        f" late rows {out['late_rows']:,}"
    )
    if accounted != sent["produced"] or out["quarantined"] != sent["invalid"]:
        raise SystemExit("MISMATCH: records were lost or doubled")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
