"""Benchmark: a year of hourly operation of one topic, with the landing lifecycle on.

    .venv/bin/python benchmarks/year_benchmark.py --days 365

Simulates a topic of 3 Kafka partitions on a local lake, hour by hour, through the real code:
every hour each partition lands one slice (`Landing.write`: 20 records of the hour, now and
then a late record for an hour up to 10 days old, and an invalid one), the topic sensor's
planning runs (`plan_tick`, as if the broker were caught up) and every hour it requests is
built (`Landing.cover` + `build_hour`), and at :40 the maintenance pass runs (`maintain_topic`,
`collect_staging`; retention 3 days, grace 6 hours). Every 97 hours a landing is killed between
its pieces and its marker (the next landing takes those offsets again in a longer slice), and a
killed hour build leaves a staged file behind.

Time is simulated: the clock starts on 2025-01-01 and advances an hour per step; the clock the
sensor and maintenance are given is that one, and every file the lake publishes gets it as its
modification time (`os.utime`), so garbage collection sees files age as they would.

At day 1, month 1 and month 12 it prints the topic sensor's planning time for a tick (the part
of a tick that reads the lake; the broker fetch is one request per partition whatever the age),
a raw run's planning time (reading the landing's cover and finding one hour's slices), the
objects listed per tick, and landing bytes / raw bytes. The same simulation without maintenance,
for the first month, shows what the lifecycle saves. Times are the median of 25 repetitions.
Targets: month-12 tick and planning within 1.5x of day 1; landing bytes <= 10% of raw.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregator_assets.config import PipelineConfig
from aggregator_assets.config.loader import parse_pipeline_config
from aggregator_assets.ingest.commits import SliceId, hour_dir
from aggregator_assets.ingest.decode import HOUR_COLUMN, DecodedBatch
from aggregator_assets.ingest.fetch import Fingerprint
from aggregator_assets.ingest.hours import build_hour
from aggregator_assets.ingest.landing import Landing
from aggregator_assets.ingest.lifecycle import collect_staging, maintain_topic
from aggregator_assets.ingest.schema import QUARANTINE_SCHEMA, UTC_US, landing_schema
from aggregator_assets.lake import Lake
from aggregator_assets.lake.storage import STAGING_DIR
from aggregator_assets.sensors import SensorSettings, TopicCursor, plan_tick

TOPIC = "year-topic"
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
PARTITIONS = 3
ROWS = 20  # per partition and hour
KILL_EVERY = 97  # hours
MAINTENANCE_MINUTE = 40
CHECKPOINTS = {1: "day 1", 30: "month 1", 365: "month 12"}
REPEAT = 25
HOUR = timedelta(hours=1)


class SimulatedLake(Lake):
    """A local lake whose files get the simulated clock as modification time, and that counts
    what its listings return."""

    def __init__(self, url: str):
        super().__init__(url)
        self.now = START
        self.listed = 0
        self.lists = 0

    def _publish(self, staged, relative, replaces=None):
        published = super()._publish(staged, relative, replaces)
        if published:
            stamp = self.now.timestamp()
            os.utime(self.path(relative), (stamp, stamp))
        return published

    def list_files(self, relative, suffix="", recursive=False):
        found = super().list_files(relative, suffix, recursive)
        self.lists += 1
        self.listed += len(found)
        return found


def topic_config() -> PipelineConfig:
    return parse_pipeline_config(
        {
            "partitions_start": START.isoformat(),
            "topics": [
                {
                    "name": TOPIC,
                    "event_time": {"field": "timestamp", "format": "iso8601"},
                    "key_field": "device_id",
                    "fields": {
                        "device_id": {"type": "string", "required": True},
                        "timestamp": {"type": "string", "required": True},
                        "value": {"type": "float", "required": True},
                    },
                }
            ],
            "landing": {"retention": "3d", "gc_grace": "6h"},
        }
    )


class Simulation:
    def __init__(self, root: Path, config: PipelineConfig, lifecycle: bool, seed: int = 7):
        self.lake = SimulatedLake(str(root))
        self.config, self.topic = config, config.topics[0]
        self.landing = Landing(self.lake, TOPIC)
        self.lifecycle = lifecycle
        self.rng = random.Random(seed)
        self.next_offset = dict.fromkeys(range(PARTITIONS), 0)
        self.cursor = TopicCursor()
        self.pending_kill: dict[int, int] = {}  # partition -> start of the killed slice
        self.settings = SensorSettings(max_requests_per_tick=1000)
        self.schema = landing_schema(self.topic).append(pa.field(HOUR_COLUMN, UTC_US))
        self.quarantine = QUARANTINE_SCHEMA.append(pa.field(HOUR_COLUMN, UTC_US))

    # -- one simulated hour ----------------------------------------------------------------

    def hour(self, index: int) -> None:
        start = START + index * HOUR
        self.lake.now = start + timedelta(minutes=5)
        for partition in range(PARTITIONS):
            self._land(partition, start, killed=index % KILL_EVERY == KILL_EVERY - 1)
        ends = {p: o for p, o in self.next_offset.items()}
        plan = plan_tick(
            self.topic, self.config, self.lake, ends, self.cursor, self.lake.now, self.settings
        )
        self.cursor = plan.cursor
        for request in plan.run_requests:
            self._run(datetime.strptime(request.partition_key, "%Y-%m-%d-%H:%M"))
        if index % KILL_EVERY == KILL_EVERY - 1:  # a killed hour build leaves its staged file
            leftover = f"{STAGING_DIR}/killed-{index}.parquet"
            self.lake.write_bytes(leftover, b"PAR1 half a file")
        self.lake.now = start + timedelta(minutes=MAINTENANCE_MINUTE)
        if self.lifecycle:
            settings = self.config.landing
            maintain_topic(self.lake, TOPIC, settings, now=self.lake.now)
            collect_staging(self.lake, settings, now=self.lake.now)

    def _land(self, partition: int, start: datetime, killed: bool) -> None:
        first = self.pending_kill.pop(partition, self.next_offset[partition])
        rows = ROWS + (self.next_offset[partition] - first)  # a re-landing takes those too
        times = [start + timedelta(seconds=self.rng.randrange(3600)) for _ in range(rows)]
        if self.rng.random() < 0.03:  # a late record for an hour up to 10 days old
            late = start - timedelta(hours=self.rng.randrange(2, 240), minutes=3)
            times[-1] = max(late, START)
        valid, bad = self._tables(partition, first, times, start)
        end = first + rows
        slice_id = SliceId(partition, first, end)
        if killed:  # its first piece is written, then the run dies before the marker
            piece = valid.drop_columns([HOUR_COLUMN])
            self.landing._write_piece("raw", hour_dir(start), slice_id, piece)
            self.pending_kill[partition] = first
        else:
            last = Fingerprint(end - 1, int(start.timestamp() * 1000), 0)
            self.landing.write(slice_id, DecodedBatch(valid, bad), last)
        self.next_offset[partition] = end

    def _tables(self, partition: int, first: int, times: list[datetime], arrival: datetime):
        n = len(times)
        bad_at = [i for i in range(n) if (first + i) % 50 == 7]  # one invalid record in 50
        good = [i for i in range(n) if i not in bad_at]
        hours = [t.replace(minute=0, second=0, microsecond=0) for t in times]
        valid = pa.table(
            {
                "device_id": [f"d{(first + i) % 13}" for i in good],
                "timestamp": [times[i].isoformat() for i in good],
                "value": [float(first + i) for i in good],
                "event_time": pa.array([times[i] for i in good], UTC_US),
                "kafka_partition": pa.array([partition] * len(good), pa.int32()),
                "kafka_offset": pa.array([first + i for i in good], pa.int64()),
                "kafka_timestamp": pa.array([arrival] * len(good), pa.timestamp("ms", "UTC")),
                "is_late": [times[i] < arrival - HOUR for i in good],
                HOUR_COLUMN: pa.array([hours[i] for i in good], UTC_US),
            },
            schema=self.schema,
        )
        bad = pa.table(
            {
                "reason": ["malformed_json"] * len(bad_at),
                "detail": [None] * len(bad_at),
                "kafka_partition": pa.array([partition] * len(bad_at), pa.int32()),
                "kafka_offset": pa.array([first + i for i in bad_at], pa.int64()),
                "kafka_timestamp": pa.array([arrival] * len(bad_at), pa.timestamp("ms", "UTC")),
                "key": [b"k"] * len(bad_at),
                "value": [b"{oops"] * len(bad_at),
                "event_time": pa.array([None] * len(bad_at), UTC_US),
                HOUR_COLUMN: pa.array([arrival] * len(bad_at), UTC_US),
            },
            schema=self.quarantine,
        )
        return valid, bad

    def _run(self, hour: datetime) -> None:
        hour = hour.replace(tzinfo=timezone.utc)
        build_hour(self.lake, self.landing, self.topic, hour, self.landing.cover())

    # -- measurements ----------------------------------------------------------------------

    def measure(self) -> dict:
        ends = dict(self.next_offset)
        before = TopicCursor.from_json(self.cursor.to_json())
        # The cursor of the tick before the latest landing: the tick reads the new markers.
        before.checked = {p: max(0, o - ROWS) for p, o in ends.items()}
        now = self.lake.now

        def tick():
            plan_tick(self.topic, self.config, self.lake, ends, before, now, self.settings)

        def planning():  # of the next run: the hour now landing closes next
            cover = self.landing.cover()
            self.landing.landed_positions(cover)
            cover.slices_for("raw", hour_dir(now))

        self.lake.listed = self.lake.lists = 0
        tick()
        listed, lists = self.lake.listed, self.lake.lists
        return {
            "tick_ms": _median_ms(tick),
            "planning_ms": _median_ms(planning),
            "listed": listed,
            "lists": lists,
            "landing": _bytes(Path(self.lake.root) / "_landing"),
            "raw": _bytes(Path(self.lake.root) / "raw")
            + _bytes(Path(self.lake.root) / "quarantine"),
            "markers": len(self.lake.list_files(self.landing.commits_dir)),
        }


def _median_ms(fn) -> float:
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def simulate(root: Path, days: int, lifecycle: bool, marks: dict[int, str]) -> dict[str, dict]:
    sim = Simulation(root, topic_config(), lifecycle)
    figures = {}
    for index in range(days * 24):
        sim.hour(index)
        day = (index + 1) / 24
        if day in marks:
            figures[marks[day]] = sim.measure()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--compare-days", type=int, default=30, help="the run without lifecycle")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    marks = {d: label for d, label in CHECKPOINTS.items() if d <= args.days}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="year-") as tmp:
        kept = simulate(Path(tmp) / "lifecycle", args.days, True, marks)
        compare_marks = {d: label for d, label in marks.items() if d <= args.compare_days}
        forever = simulate(
            Path(tmp) / "forever", min(args.days, args.compare_days), False, compare_marks
        )
    elapsed = time.monotonic() - started
    rows = [
        ("sensor tick, lake part (ms)", "tick_ms", "{:.2f}"),
        ("raw run planning (ms)", "planning_ms", "{:.2f}"),
        ("objects listed per tick", "listed", "{:d}"),
        ("listings per tick", "lists", "{:d}"),
        ("loose commit markers", "markers", "{:d}"),
        ("landing bytes", "landing", "{:,d}"),
        ("raw + quarantine bytes", "raw", "{:,d}"),
    ]
    for title, figures in (("with landing lifecycle", kept), ("landing kept forever", forever)):
        labels = list(figures)
        if not labels:
            continue
        print(f"\n{title}:")
        print(f"{'':<30}" + "".join(f"{label:>14}" for label in labels))
        for name, key, fmt in rows:
            cells = (fmt.format(figures[label][key]) for label in labels)
            print(f"{name:<30}" + "".join(f"{cell:>14}" for cell in cells))
        ratio = [figures[label]["landing"] / figures[label]["raw"] for label in labels]
        print(f"{'landing / raw':<30}" + "".join(f"{r:>14.1%}" for r in ratio))
    first, last = next(iter(kept.values())), list(kept.values())[-1]
    print(
        f"\nlast/first: tick {last['tick_ms'] / first['tick_ms']:.2f}x,"
        f" planning {last['planning_ms'] / first['planning_ms']:.2f}x (targets <= 1.5x);"
        f" landing/raw {last['landing'] / last['raw']:.1%} (target <= 10%)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"simulated {args.days} days (+{min(args.days, args.compare_days)} without lifecycle) in"
        f" {elapsed:.0f}s; peak RSS {peak:.0f} MB; load average at end {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
