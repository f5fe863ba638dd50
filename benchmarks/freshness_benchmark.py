"""Freshness of the live tail on the production stack (issue #15).

Starts the bundled broker, a fresh Postgres database and `dagster-daemon` with
`deploy/dagster.yaml` (Postgres storage, queued runs) and `AGGREGATOR_LIVE_TAIL=1`, so the
`live_tail_sensor` launches the `live_tail` run as in production. The pipeline has `--topics`
topics that receive `--rate` records a second each and `--idle-topics` that receive nothing
(every topic is tailed). After `--idle-minutes` of silence (the idle cost), it produces for
`--minutes`, polling the DuckDB file the tail refreshes every `--poll-s` seconds, and prints per
topic:
  - produce -> visible in recent_<topic> (live rows, or sealed ones if sealed first): p50/p95/max;
  - a 1 m window's close (end + allowed_lateness, by the clock) -> its row in
    live_windows_<topic>_1m with window_closed: p50/p95/max;
  - an hour's close (end + allowed_lateness) -> its sealed raw and windows files, when the run
    crosses an hour (topic sensor + automation, unchanged rules);
  - the CPU of the live_tail run (its processes) per topic per idle minute and per 1,000 records.
Delays include up to `--poll-s` of polling resolution.

    .venv/bin/python benchmarks/freshness_benchmark.py --minutes 10 --rate 20
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import psutil
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aggregator_assets.demo.broker import LocalBroker  # noqa: E402
from aggregator_assets.demo.postgres import admin_sql, instance_env  # noqa: E402
from aggregator_assets.lake import Lake, hour_path  # noqa: E402

LATENESS_S = 60


def pipeline_yaml(names: list[str]) -> str:
    topic = """  - name: {name}
    event_time: {{field: timestamp, format: iso8601}}
    key_field: device_id
    fields:
      device_id: {{type: string, required: true}}
      timestamp: {{type: string, required: true}}
      seq: {{type: int, required: true, aggregate: false}}
      value: {{type: float, required: true}}
    allowed_lateness: {lateness}s
    windows: [{{size: 1m}}]
"""
    start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(
        days=1
    )
    text = f'partitions_start: "{start:%Y-%m-%dT%H:%M:%SZ}"\ntopics:\n'
    return text + "".join(topic.format(name=n, lateness=LATENESS_S) for n in names)


def live_run_id() -> str | None:
    """The live_tail run in progress, from the instance ($DAGSTER_HOME, Postgres)."""
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    with DagsterInstance.get() as instance:
        runs = instance.get_runs(
            RunsFilter(job_name="live_tail", statuses=[DagsterRunStatus.STARTED]), limit=1
        )
    return runs[0].run_id if runs else None


def tail_processes(run_id: str) -> list[psutil.Process]:
    """The run worker and step process of a run: the parents of its compute-log tailers."""
    for proc in psutil.process_iter(["cmdline"]):
        if f"{run_id}/compute_logs" in " ".join(proc.info["cmdline"] or []):
            step = proc.parent()
            return [step, step.parent()] if step else []
    return []


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def round_seconds(logs: Path) -> list[float]:
    """Wall time of each live_tail round, from the run's compute logs ("round N: ... in Xs")."""
    found = re.findall(
        r"round \d+: landed \d+ records in ([0-9.]+)s",
        "".join(f.read_text(errors="replace") for f in logs.glob("*.err")),
    )
    return [float(x) for x in found]


def percentiles(values: list[float]) -> str:
    if not values:
        return "none measured"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered):6.1f} s  p95 {p95:6.1f} s  max {ordered[-1]:6.1f} s"
        f"  (n={len(ordered)})"
    )


class Producer(threading.Thread):
    """`rate` records a second per topic; remembers when each seq was sent."""

    def __init__(self, bootstrap: str, topics: list[str], rate: int, seconds: float):
        super().__init__(daemon=True)
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        self.topics, self.rate, self.seconds = topics, rate, seconds
        self.sent: dict[str, dict[int, float]] = {t: {} for t in topics}
        self.first: float | None = None
        self.last: float | None = None

    def run(self) -> None:
        started = time.time()
        self.first = started
        seq = 0
        while time.time() - started < self.seconds:
            tick = time.time()
            for topic in self.topics:
                for i in range(self.rate):
                    now = time.time()
                    at = datetime.fromtimestamp(now, timezone.utc)
                    body = {
                        "device_id": f"d{i % 10}",
                        "timestamp": at.isoformat().replace("+00:00", "Z"),
                        "seq": seq,
                        "value": (seq % 997) / 7.0,
                    }
                    self.producer.send(topic, json.dumps(body).encode(), key=f"d{i % 10}".encode())
                    self.sent[topic][seq] = now
                    seq += 1
            self.producer.flush()
            self.last = time.time()
            time.sleep(max(0.0, 1.0 - (time.time() - tick)))
        self.producer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=int, default=20, help="records/s per active topic")
    parser.add_argument("--topics", type=int, default=3)
    parser.add_argument("--idle-topics", type=int, default=0)
    parser.add_argument("--idle-minutes", type=float, default=2)
    parser.add_argument("--poll-s", type=float, default=2)
    parser.add_argument("--kafka-port", type=int, default=19550)
    parser.add_argument("--settle-minutes", type=float, default=3, help="after producing stops")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="freshness-"))
    active = [f"fresh-{i}" for i in range(args.topics)]
    idle = [f"idle-{i}" for i in range(args.idle_topics)]
    (work / "pipeline.yaml").write_text(pipeline_yaml(active + idle))
    home = work / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy/dagster.yaml", home / "dagster.yaml")
    db = f"freshness_{uuid.uuid4().hex[:8]}"
    admin_sql(f"CREATE DATABASE {db}")
    broker = LocalBroker(args.kafka_port, log_path=work / "broker.log").start()
    daemon = None
    try:
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        admin.create_topics([NewTopic(t, 3, 1) for t in active + idle])
        admin.close()
        env = os.environ | {
            "DAGSTER_HOME": str(home),
            **instance_env(db),
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "LAKE_URL": str(work / "lake"),
            "DUCKDB_PATH": str(work / "lake.duckdb"),
            "AGGREGATOR_CONFIG": str(work / "pipeline.yaml"),
            "AGGREGATOR_LIVE_TAIL": "1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        log = open(work / "daemon.log", "wb")  # noqa: SIM115
        daemon = subprocess.Popen(
            ["dagster-daemon", "run", "-m", "aggregator_assets.definitions"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        print(f"work dir {work}; waiting for the live_tail run", flush=True)
        os.environ.update({k: v for k, v in env.items() if k.startswith("DAGSTER_")})
        deadline = time.monotonic() + 300
        procs: list[psutil.Process] = []
        while not procs:
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise SystemExit("no live_tail run started; see " + str(work / "daemon.log"))
            time.sleep(2)
            run_id = live_run_id()
            procs = tail_processes(run_id) if run_id else []
        print(f"live_tail run {run_id}: processes {[p.pid for p in procs]}", flush=True)
        time.sleep(20)  # its first rounds (imports, first views)
        idle_from = cpu_seconds(procs)
        time.sleep(args.idle_minutes * 60)
        idle_cpu = cpu_seconds(procs) - idle_from
        all_topics = len(active) + len(idle)
        print(
            f"idle: {idle_cpu:.2f} CPU s over {args.idle_minutes:g} min for {all_topics} topics"
            f" = {idle_cpu / args.idle_minutes / all_topics * 1000:.1f} CPU ms per topic per"
            " idle minute",
            flush=True,
        )

        busy_from = cpu_seconds(procs)
        producer = Producer(broker.bootstrap, active, args.rate, args.minutes * 60)
        producer.start()
        seen: dict[str, dict[int, float]] = {t: {} for t in active}
        closed: dict[str, dict[str, float]] = {t: {} for t in active}
        lake = Lake(str(work / "lake"))
        sealed: dict[str, float] = {}
        stop_at = time.time() + args.minutes * 60 + args.settle_minutes * 60
        while time.time() < stop_at:
            now = time.time()
            # The tail replaces the file whole; DuckDB caches an open database by its path, so
            # each poll reads a copy under a new name (the file holds only view definitions).
            snapshot = work / f"poll-{uuid.uuid4().hex}.duckdb"
            try:
                shutil.copyfile(work / "lake.duckdb", snapshot)
                con = duckdb.connect(str(snapshot), read_only=True)
            except (OSError, duckdb.Error):
                snapshot.unlink(missing_ok=True)
                time.sleep(0.2)
                continue
            try:
                for topic in active:
                    name = topic.replace("-", "_")
                    floor = min(set(producer.sent[topic]) - set(seen[topic]), default=None)
                    if floor is not None:
                        rows = con.sql(f"SELECT seq FROM recent_{name} WHERE seq >= {floor}")
                        for (seq,) in rows.fetchall():
                            seen[topic].setdefault(seq, now)
                    rows = con.sql(
                        f"SELECT DISTINCT window_start FROM live_windows_{name}_1m"
                        " WHERE window_closed"
                    )
                    for (start,) in rows.fetchall():
                        closed[topic].setdefault(start.isoformat(), now)
            except duckdb.Error as exc:
                print(f"poll: {exc}", flush=True)
            finally:
                con.close()
                snapshot.unlink(missing_ok=True)
            for topic in active:
                first = producer.first or now
                hour = datetime.fromtimestamp(first, timezone.utc).replace(
                    minute=0, second=0, microsecond=0
                )
                for stage, folder in (
                    ("raw", ("raw", topic)),
                    ("windows", ("windows", topic, "1m")),
                ):
                    key = f"{topic} {stage}"
                    if key not in sealed and lake.exists(
                        f"{hour_path(*folder, hour=hour)}/part-0.parquet"
                    ):
                        sealed[key] = (
                            now - (hour + timedelta(hours=1, seconds=LATENESS_S)).timestamp()
                        )
            time.sleep(max(0.0, args.poll_s - (time.time() - now)))
        producer.join()
        busy_cpu = cpu_seconds(procs) - busy_from
        busy_s = args.minutes * 60 + args.settle_minutes * 60
        records = sum(len(s) for s in producer.sent.values())
        extra = busy_cpu - idle_cpu / (args.idle_minutes * 60) * busy_s
        load = os.getloadavg()
        print(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {records} records")
        print(
            f"landing cost: {busy_cpu:.1f} CPU s while producing; above idle {extra:.1f} CPU s"
            f" = {extra / records * 1000:.2f} CPU s per 1,000 records"
        )
        for topic in active:
            delays = [
                seen[topic][s] - t for s, t in producer.sent[topic].items() if s in seen[topic]
            ]
            missing = len(producer.sent[topic]) - len(delays)
            print(
                f"{topic}: produce -> visible in recent_: {percentiles(delays)}, unseen {missing}"
            )
            window_delays = []
            for start_text, when in closed[topic].items():
                start = datetime.fromisoformat(start_text).timestamp()
                if (
                    producer.first
                    and start >= producer.first
                    and start + 60 <= (producer.last or 0)
                ):
                    window_delays.append(when - (start + 60 + LATENESS_S))
            print(
                f"{topic}: window close -> live_windows_ closed row: {percentiles(window_delays)}"
            )
        rounds = round_seconds(home / "storage" / run_id / "compute_logs")
        print(f"live_tail rounds ({all_topics} topics, every 60 s): {percentiles(rounds)}")
        if sealed:
            for key, delay in sorted(sealed.items()):
                print(f"{key}: hour close -> sealed file: {delay:.0f} s")
        else:
            print("no hour closed during the run (start it before hh:50 + minutes to see one)")
    finally:
        if daemon is not None:
            from aggregator_assets_tests.processes import stop_group

            stop_group(daemon)
        broker.stop()
        admin_sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


if __name__ == "__main__":
    main()
