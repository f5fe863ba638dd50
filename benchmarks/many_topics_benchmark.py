"""Benchmark: a thousand slow topics through the production daemon, from a cold start.

    .venv/bin/python benchmarks/many_topics_benchmark.py --topics 1000

Starts the bundled broker, creates `--topics` topics named `lsst.sal.bench<n>` (one partition
each) and produces `--rate` records a second into each for `--hours` backdated hours that the
clock has closed. The pipeline config lists them by one pattern (`lsst.sal.*`, one template, one
1-minute window); the broker's topic list is cached first (`aggregator-assets topics-refresh`).
It then times loading the code location (`import aggregator_assets.definitions` and building the
repository's snapshot, as the daemon's code server does, in a fresh process), and starts a
code server of its own (`dagster api grpc`; `--code-server managed` lets the daemon start one
with `-m`) and `dagster-daemon` on a fresh Postgres database with `deploy/dagster.yaml`, nobody
launching anything (runs use `--executor`, default `in_process`). It polls the lake until every
closed hour of every topic has its raw and windows files, and prints: load time, topics per raw
run, run wall times, runs launched (raw, windows, other), time from the start until every hour
was sealed, and the CPU seconds of the daemon's and code server's process groups (the daemon,
code servers and every run), by kind with Postgres backends and the broker beside them (sampled
each second, so processes living less than a second are missed).

Targets on this machine (2 cores): load <= 10 s; every hour sealed within 15 min; at most one
run per 50 topic-hours. Needs Postgres on 127.0.0.1:5432 (trust) and free ports: the broker
listens on `--broker-port`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import yaml
from kafka.admin import NewTopic

from aggregator_assets.demo.broker import LocalBroker, free_port, wait_for_port
from aggregator_assets.demo.postgres import admin_sql, instance_env
from aggregator_assets.resources import KafkaResource

ROOT = Path(__file__).resolve().parents[1]
HOUR = timedelta(hours=1)
LATENESS = timedelta(minutes=1)
TEMPLATE = {
    "value_format": "json",
    "event_time": {"field": "ts", "format": "epoch_ms"},
    "key_field": "source",
    "fields": {
        "source": {"type": "string", "required": True},
        "ts": {"type": "int", "required": True},
        "value1": {"type": "float"},
    },
    "allowed_lateness": "1m",
    "windows": [{"size": "1m"}],
}
LOAD_SCRIPT = """
import time
started = time.perf_counter()
import aggregator_assets.definitions as d
from dagster._core.remote_representation.external_data import RepositorySnap
repo = d.defs.get_repository_def()
RepositorySnap.from_def(repo)
print(time.perf_counter() - started, len(repo.asset_graph.get_all_asset_keys()),
      len(repo.sensor_defs))
"""


def closed_hours(now: datetime, count: int) -> list[datetime]:
    """The `count` latest hours that are closed now (hour end + lateness <= now), with a
    margin so that the hours are closed when the daemon starts."""
    last = (now - LATENESS - timedelta(minutes=2) - HOUR).replace(minute=0, second=0, microsecond=0)
    return [last - HOUR * i for i in reversed(range(count))]


def produce(bootstrap: str, names: list[str], hours: list[datetime], rate: float) -> int:
    """One producer per 50 topics: kafka-python's `send` copies the set of every topic its
    producer has metadata for, so one producer for 1,000 topics is quadratic."""
    kafka = KafkaResource(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    step_ms = int(1000 / rate)
    sent = 0
    for chunk in range(0, len(names), 50):
        with kafka.producer(linger_ms=50, batch_size=1024 * 1024) as producer:
            for name in names[chunk : chunk + 50]:
                for hour in hours:
                    start = int(hour.timestamp() * 1000)
                    for i, ts in enumerate(range(start, start + 3_600_000, step_ms)):
                        value = b'{"source":"s%d","ts":%d,"value1":%d.5}' % (i % 3, ts, i % 100)
                        producer.send(name, value=value, partition=0, timestamp_ms=ts)
                        sent += 1
            producer.flush()
    return sent


def produce_parallel(bootstrap: str, names: list[str], hours: list[datetime], rate: float) -> int:
    """`produce` in one process per CPU, each with its share of the topics."""
    workers = os.cpu_count() or 1
    shares = [names[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        jobs = [pool.submit(produce, bootstrap, share, hours, rate) for share in shares]
        return sum(job.result() for job in jobs)


def create_topics(kafka: KafkaResource, names: list[str]) -> None:
    with kafka.admin() as admin:
        for i in range(0, len(names), 100):
            admin.create_topics([NewTopic(n, 1, 1) for n in names[i : i + 100]])


def sealed(lake: Path, names: list[str], hours: list[datetime]) -> int:
    """Topic-hours whose raw and windows files both exist."""
    done = 0
    for name in names:
        for h in hours:
            part = f"year={h:%Y}/month={h:%m}/day={h:%d}/hour={h:%H}/part-0.parquet"
            raw = lake / "raw" / name / part
            windows = lake / "windows" / name / "1m" / part
            done += raw.exists() and windows.exists()
    return done


class CpuMeter:
    """CPU seconds of process groups, summed over every process seen in them, and by kind:
    the daemon, code servers, runs (a code server's subprocesses), Postgres backends (outside
    the groups; short-lived ones are missed) and the broker."""

    def __init__(self, *groups: int):
        self.groups = set(groups)
        self.started = time.time()
        self.seen: dict[tuple[int, float], tuple[str, float]] = {}
        self.before: dict[tuple[int, float], float] = {}  # CPU of older processes at first sight

    def sample(self) -> None:
        for proc in psutil.process_iter(["pid", "create_time", "cmdline", "username"]):
            try:
                kind = self._kind(proc)
                if kind is None:
                    continue
                t, key = proc.cpu_times(), (proc.pid, proc.info["create_time"])
                if key not in self.seen and proc.info["create_time"] < self.started:
                    self.before[key] = t.user + t.system
                self.seen[key] = (kind, t.user + t.system - self.before.get(key, 0.0))
            except (psutil.Error, ProcessLookupError, OSError):
                continue

    def _kind(self, proc: psutil.Process) -> str | None:
        command = " ".join(proc.info["cmdline"] or [])
        if proc.info["username"] == "postgres" and command.startswith("postgres:"):
            return "postgres"
        if "tansu" in command and "broker" in command:
            return "broker"
        if os.getpgid(proc.pid) not in self.groups:
            return None
        if "dagster-daemon" in command:
            return "daemon"
        if " api grpc" in command:
            return "code server"
        return "runs"

    @property
    def seconds(self) -> float:
        """CPU seconds of the daemon's and code server's process groups."""
        return sum(v for kind, v in self.seen.values() if kind not in ("postgres", "broker"))

    def by_kind(self) -> str:
        totals: dict[str, float] = {}
        for kind, v in self.seen.values():
            totals[kind] = totals.get(kind, 0.0) + v
        return ", ".join(f"{k} {v:.0f}" for k, v in sorted(totals.items(), key=lambda kv: -kv[1]))


def start_code_server(work: Path, env: dict, log) -> tuple[subprocess.Popen, list[str]]:
    """A code server of its own (`dagster api grpc`, as docs/operations.md deploys it) and the
    daemon's arguments for a workspace pointing at it. With `-m`, the daemon instead restarts
    its own code server every minute (a full code location load each time)."""
    port = free_port()
    server = subprocess.Popen(
        ["dagster", "api", "grpc", "-m", "aggregator_assets.definitions", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    location = {"host": "127.0.0.1", "port": port, "location_name": "aggregator_assets"}
    workspace = work / "workspace.yaml"
    workspace.write_text(yaml.safe_dump({"load_from": [{"grpc_server": location}]}))
    wait_for_port(port, server, timeout_s=120, name="the code server")
    return server, ["-w", str(workspace)]


def count_runs(env: dict) -> dict[str, int]:
    script = """
import json
from collections import Counter
from dagster import DagsterEventType, DagsterInstance
with DagsterInstance.get() as instance:
    kinds, failures, spans, sizes = Counter(), [], [], []
    for run in instance.get_runs():
        stats = instance.get_run_stats(run.run_id)
        if stats.start_time and stats.end_time:
            spans.append(stats.end_time - stats.start_time)
        keys = [k.to_user_string() for k in (run.asset_selection or [])]
        kind = "raw" if any(k.startswith("raw_") for k in keys) else (
            "windows" if keys and all(k.startswith("windows_") for k in keys) else "other")
        kinds[kind] += 1
        if kind == "raw":
            reason = run.tags.get("aggregator/reason", "-")
            sizes.append(f"{sum(k.startswith('raw_') for k in keys)}:{reason}")
        kinds["status_" + run.status.value] += 1
        if run.status.value == "FAILURE":
            events = instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE)
            failures += [str(e.dagster_event.step_failure_data.error.message)[:300] for e in events]
print(json.dumps({**kinds, "failures": failures, "spans": sorted(spans), "sizes": sorted(sizes)}))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1.0, help="records per second per topic")
    parser.add_argument("--hours", type=int, default=2, help="backdated closed hours")
    parser.add_argument("--batch-size", type=int, default=50, help="topic_batch_size")
    parser.add_argument("--broker-port", type=int, default=19301)
    parser.add_argument(
        "--executor",
        default="in_process",
        choices=["in_process", "multiprocess"],
        help="AGGREGATOR_EXECUTOR of the runs (multiprocess: a subprocess, a code location load,"
        " per step)",
    )
    parser.add_argument(
        "--code-server",
        default="standalone",
        choices=["standalone", "managed"],
        help="standalone: `dagster api grpc` and a workspace.yaml (docs/operations.md);"
        " managed: `dagster-daemon run -m`, which restarts its code server every minute",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait, at most")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="many-topics-"))
    database = f"bench_{uuid.uuid4().hex[:8]}"
    print(f"load average {os.getloadavg()[0]:.2f} at start ({os.cpu_count()} CPUs, shared)")
    broker = LocalBroker(args.broker_port, work / "broker.log").start()
    daemon, groups = None, []
    try:
        kafka = KafkaResource(bootstrap_servers=broker.bootstrap, request_timeout_ms=30_000)
        names = [f"lsst.sal.bench{i:04d}" for i in range(args.topics)]
        now = datetime.now(timezone.utc)
        hours = closed_hours(now, args.hours)
        started = time.monotonic()
        create_topics(kafka, names)
        sent = produce_parallel(broker.bootstrap, names, hours, args.rate)
        print(
            f"{args.topics} topics, {sent:,} records over {hours[0]:%H}:00-{hours[-1]:%H}:59 UTC"
            f" produced in {time.monotonic() - started:.0f} s"
        )

        config = {
            "partitions_start": hours[0].replace(hour=0).isoformat(),
            "topic_batch_size": args.batch_size,
            "topics": [{"pattern": "lsst.sal.*", **TEMPLATE}],
        }
        (work / "pipeline.yaml").write_text(yaml.safe_dump(config))
        home = work / "dagster_home"
        home.mkdir()
        shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
        env = os.environ | {
            "AGGREGATOR_CONFIG": str(work / "pipeline.yaml"),
            "AGGREGATOR_TOPICS_CACHE": str(work / "topics.json"),
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "LAKE_URL": str(work / "lake"),
            "DUCKDB_PATH": str(work / "lake.duckdb"),
            "DAGSTER_HOME": str(home),
            **instance_env(database),
            "AGGREGATOR_EXECUTOR": args.executor,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        cli = Path(sys.executable).parent / "aggregator-assets"
        subprocess.run([cli, "topics-refresh"], env=env, check=True, capture_output=True)

        for attempt in (1, 2):
            t0 = time.monotonic()
            out = subprocess.run(
                [sys.executable, "-c", LOAD_SCRIPT], env=env, capture_output=True, text=True
            )
            if out.returncode:
                raise SystemExit(out.stderr[-3000:])
            inner, assets, sensors = out.stdout.split()
            print(
                f"code location load #{attempt}: {time.monotonic() - t0:.1f} s wall"
                f" ({float(inner):.1f} s import + definitions + snapshot),"
                f" {assets} assets, {sensors} sensors"
            )

        admin_sql(f"CREATE DATABASE {database}")
        log = open(work / "daemon.log", "wb")  # noqa: SIM115
        t0 = time.monotonic()
        target = ["-m", "aggregator_assets.definitions"]
        if args.code_server == "standalone":
            server, target = start_code_server(work, env, log)
            groups.append(server.pid)
        daemon = subprocess.Popen(
            ["dagster-daemon", "run", *target],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        groups.append(daemon.pid)
        meter = CpuMeter(*groups)
        wanted = len(names) * len(hours)
        done, last_print = 0, 0.0
        while time.monotonic() - t0 < args.timeout:
            meter.sample()
            if daemon.poll() is not None:
                raise SystemExit((work / "daemon.log").read_text()[-3000:])
            done = sealed(work / "lake", names, hours)
            if done == wanted:
                break
            if time.monotonic() - last_print > 60:
                last_print = time.monotonic()
                print(f"  {time.monotonic() - t0:5.0f} s: {done}/{wanted} topic-hours sealed")
            time.sleep(1)
        elapsed = time.monotonic() - t0
        meter.sample()
        runs = count_runs(env)
        spans, sizes = runs.pop("spans"), runs.pop("sizes")
        print(f"raw runs (topics:reason): {', '.join(sizes)}")
        if spans:
            print(
                f"run wall time: median {spans[len(spans) // 2]:.0f} s, max {spans[-1]:.0f} s,"
                f" sum {sum(spans):.0f} s over {len(spans)} runs"
            )
        for failure in runs.pop("failures"):
            print(f"  failed step: {failure}")
        launched = runs.get("raw", 0) + runs.get("windows", 0) + runs.get("other", 0)
        print(
            f"sealed {done}/{wanted} topic-hours in {elapsed:.0f} s after the daemon started"
            + ("" if done == wanted else " (TIMED OUT)")
        )
        print(
            f"runs launched: {launched} (raw and their windows {runs.get('raw', 0)}, windows"
            f" {runs.get('windows', 0)}, other {runs.get('other', 0)}):"
            f" {wanted / max(launched, 1):.0f} topic-hours per run;"
            f" statuses { ({k[7:]: v for k, v in runs.items() if k.startswith('status_')}) }"
        )
        print(
            f"CPU seconds (daemon, code servers, runs; {args.executor} executor,"
            f" {args.code_server} code server):"
            f" {meter.seconds:.0f} ({meter.by_kind()})"
        )
        print(f"load average {os.getloadavg()[0]:.2f} at end")
        return 0 if done == wanted else 1
    finally:
        if daemon is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(daemon.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                daemon.wait(30)
        for group in groups:  # runs and code servers left behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        if daemon is not None:
            daemon.wait()
            try:
                admin_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            except Exception as exc:  # the figures above stand; say what was left behind
                print(f"could not drop database {database}: {exc}", file=sys.stderr)
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
