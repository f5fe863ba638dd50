"""`make dev`: the bundled broker, demo data, the demo hours ingested, then the Dagster UI.

Phases print one line each, with the time since start. Every process runs in its own process
group with its output in `data/dev/<name>.log`, so the terminal stays readable and Ctrl-C or
SIGTERM stops all of them (broker, producers, ingestion, webserver, daemon and the code servers
and runs they started) within seconds: a polite SIGTERM to each group, SIGKILL after
`STOP_GRACE_S`. The UI is the two services `dagster dev` runs, `dagster-webserver` and
`dagster-daemon`, started directly: `dagster dev` waits up to 60 s for each on shutdown, and
announces itself superseded on every start.

Settings come from the environment: KAFKA_PORT (9092), DAGSTER_PORT (3000), DEMO_HOURS (3),
DEMO_RATE (30 events/s over the non-vehicle topics), LAKE_URL, DUCKDB_PATH, DAGSTER_HOME. The
stack, and every process it starts, ends when its parent (`make`) does, even by SIGKILL.

The bundled broker keeps topics in memory, so every start has new, empty topics: a lake landed
from an earlier start cannot continue from them (ingest refuses a topic whose log ends before
what the lake holds). The previous demo (lake, views database, instance, logs) is moved to
`data/previous/<time>/`, never deleted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from aggregator_assets.config import load_pipeline_config
from aggregator_assets.demo import ingest
from aggregator_assets.demo.broker import wait_for_port

STOP_GRACE_S = 3.0
UI_START_S = 180.0
DEV_INSTANCE_YAML = Path("deploy", "dagster.dev.yaml")  # in the project folder (the cwd)


@dataclass(frozen=True)
class Settings:
    kafka_port: int
    dagster_port: int
    demo_hours: float
    demo_rate: float
    data_dir: Path
    dagster_home: Path

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            kafka_port=int(env.get("KAFKA_PORT", "9092")),
            dagster_port=int(env.get("DAGSTER_PORT", "3000")),
            demo_hours=float(env.get("DEMO_HOURS", "3")),
            demo_rate=float(env.get("DEMO_RATE", "30")),
            data_dir=Path("data").absolute(),
            dagster_home=Path(env.get("DAGSTER_HOME") or ".dagster_home").absolute(),
        )

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "dev"

    def demo_state(self) -> list[Path]:
        """What one start of the demo writes, where the defaults put it. A LAKE_URL, DUCKDB_PATH
        or DAGSTER_HOME set elsewhere is the user's own and is left alone."""
        env = os.environ
        paths = [self.log_dir, self.data_dir / "lake"]
        if "DUCKDB_PATH" not in env:
            paths += [self.data_dir / "lake.duckdb", self.data_dir / "lake.duckdb.wal"]
        if self.dagster_home == Path(".dagster_home").absolute():
            paths.append(self.dagster_home)
        return paths

    def service_env(self) -> dict[str, str]:
        """What every process of the stack sees: the same broker, lake, database and instance
        as a command typed in another terminal of the project folder with the defaults."""
        env = os.environ.copy()
        env.setdefault("LAKE_URL", str(self.data_dir / "lake"))
        env.setdefault("DUCKDB_PATH", str(self.data_dir / "lake.duckdb"))
        env["KAFKA_BOOTSTRAP_SERVERS"] = self.bootstrap
        env["DAGSTER_HOME"] = str(self.dagster_home)
        return env


class Phases:
    """Numbered phase lines with the elapsed time, so a person can follow the start-up."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def say(self, text: str) -> None:
        elapsed = int(time.monotonic() - self.started)
        print(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {text}", flush=True)


class Services:
    """Child processes, each leading its own process group; `stop` ends every group."""

    def __init__(self, log_dir: Path, env: dict[str, str]):
        self.log_dir, self.env = log_dir, env
        self.procs: dict[str, subprocess.Popen] = {}
        self.finished: set[str] = set()  # jobs waited for (producers, ingestion), not services

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 (closed by the child's exit)
        proc = subprocess.Popen(
            argv,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=end_with_parent,
        )
        log.close()
        self.procs[name] = proc
        return proc

    def wait(
        self,
        name: str,
        echo: Callable[[str], None] | None = None,
        keep: Callable[[str], bool] = bool,
    ) -> int:
        """Wait for `name` to exit; `echo` gets the lines of its log that `keep` accepts, as they
        appear."""
        proc, log, seen = self.procs[name], self.log_dir / f"{name}.log", 0
        while True:
            code = proc.poll()
            if echo is not None:
                lines = log.read_text(errors="replace").splitlines()
                for line in filter(keep, lines[seen:]):
                    echo(line)
                seen = len(lines)
            if code is not None:
                break
            time.sleep(0.5)
        self.finished.add(name)
        if code != 0:
            tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
            raise StackError(f"{name} failed (exit {code}); end of {name}.log:\n{tail}")
        return code

    def dead(self) -> list[str]:
        """Services (not finished jobs) that have exited."""
        return [
            name
            for name, proc in self.procs.items()
            if name not in self.finished and proc.poll() is not None
        ]

    def stop(self) -> None:
        for proc in self.procs.values():
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in self.procs.values():
            with suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, deadline - time.monotonic()))
        for proc in self.procs.values():
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class StackError(RuntimeError):
    pass


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _wait_for_ui(url: str, services: Services) -> None:
    deadline = time.monotonic() + UI_START_S
    while time.monotonic() < deadline:
        if services.dead():
            raise StackError(f"{', '.join(services.dead())} exited; see {services.log_dir}")
        with suppress(OSError), urllib.request.urlopen(f"{url}/server_info", timeout=2) as r:
            if r.status == 200:
                return
        time.sleep(0.5)
    raise StackError(f"the webserver did not answer on {url} within {UI_START_S:.0f}s")


@dataclass(frozen=True)
class DemoBatch:
    """Topics produced together by one `aggregator-assets demo` process."""

    topics: list[str]
    start: datetime
    end: datetime
    rate: float


# Vehicles drive at their own pace (two of them at least, see demo/sources.py VehicleCan).
VEHICLE_RATE = 2.0


def demo_batches(settings: Settings, now: datetime) -> list[DemoBatch]:
    """The last DEMO_HOURS of every topic; the trips' source topic from an hour before
    yesterday's midnight, so yesterday's trips have their lookback and the midnight trip the
    demo plants."""
    config = load_pipeline_config()
    end = now.replace(second=0, microsecond=0)
    trips = config.trips.source_topic if config.trips else None
    others = [t.name for t in config.topics if t.name != trips]
    batches = []
    if others:
        start = end - timedelta(hours=settings.demo_hours)
        batches.append(DemoBatch(others, start, end, settings.demo_rate))
    if trips:
        midnight = end.replace(hour=0, minute=0) - timedelta(days=1)
        batches.append(DemoBatch([trips], midnight - timedelta(hours=1), end, VEHICLE_RATE))
    return batches


def _produce(services: Services, settings: Settings, batches: list[DemoBatch], say) -> None:
    """One producer process per batch, side by side (the Kafka client is CPU-bound)."""
    for i, b in enumerate(batches):
        hours = (b.end - b.start) / timedelta(hours=1)
        services.start(
            f"demo-{i}",
            [
                *(_bin("aggregator-assets"), "demo", "--bootstrap", settings.bootstrap),
                *("--hours", f"{hours:g}", "--end", b.end.isoformat(), "--rate", f"{b.rate:g}"),
                *("--topics", *b.topics, "--malformed", "0.01", "--late", "0.02", "--quiet"),
            ],
        )
    for i, b in enumerate(batches):
        services.wait(f"demo-{i}", say, keep=lambda line, b=b: line.split(":")[0] in b.topics)


def keep_previous_demo(settings: Settings, now: datetime) -> Path | None:
    """Move an earlier start's demo state to `data/previous/<UTC time>/` (see the module
    docstring); the folder it went to, or None when the default lake holds nothing yet."""
    if "LAKE_URL" in os.environ or not (settings.data_dir / "lake").exists():
        return None
    target = settings.data_dir / "previous" / now.strftime("%Y%m%dT%H%M%SZ")
    target.mkdir(parents=True, exist_ok=True)
    for path in settings.demo_state():
        if path.exists():
            path.rename(target / path.name.lstrip("."))
    return target


def run(settings: Settings) -> None:
    phases = Phases()
    kept = keep_previous_demo(settings, datetime.now(timezone.utc))
    if kept is not None:
        phases.say(f"the broker starts with empty topics: the previous demo is kept in {kept}")
    env = settings.service_env()
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    if not (settings.dagster_home / "dagster.yaml").exists():
        shutil.copy(DEV_INSTANCE_YAML, settings.dagster_home / "dagster.yaml")
    services = Services(settings.log_dir, env)
    try:
        phases.say(f"1/4 starting the local Kafka-protocol broker on {settings.bootstrap}")
        broker = services.start(
            "broker", [_bin("aggregator-assets"), "broker", "--port", str(settings.kafka_port)]
        )
        try:
            wait_for_port(settings.kafka_port, broker, timeout_s=20)
        except (RuntimeError, TimeoutError) as exc:
            hint = f"port {settings.kafka_port} in use? try KAFKA_PORT=9093"
            raise StackError(f"{exc} ({hint})") from None

        batches = demo_batches(settings, datetime.now(timezone.utc))
        topics = [t for b in batches for t in b.topics]
        phases.say(f"2/4 producing demo data to {', '.join(topics)}")
        _produce(services, settings, batches, phases.say)

        phases.say("3/4 ingesting the demo hours (one ranged run per group of hours)")
        spans = {t: [b.start.isoformat(), b.end.isoformat()] for b in batches for t in b.topics}
        services.start(
            "ingest", [sys.executable, "-m", "aggregator_assets.demo.ingest", json.dumps(spans)]
        )
        services.wait("ingest", phases.say, keep=lambda line: line.startswith(ingest.PREFIX))

        url = f"http://127.0.0.1:{settings.dagster_port}"
        phases.say(f"4/4 starting dagster-webserver and dagster-daemon (logs: {settings.log_dir})")
        services.start("daemon", [_bin("dagster-daemon"), "run", "-w", "workspace.yaml"])
        services.start(
            "webserver",
            [
                *(_bin("dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1"),
                *("-p", str(settings.dagster_port), "--dagster-log-level", "warning"),
            ],
        )
        _wait_for_ui(url, services)
        phases.say(f"Dagster UI on {url} (Ctrl-C to stop)")
        while not services.dead():
            time.sleep(1)
        raise StackError(f"{', '.join(services.dead())} exited; see {settings.log_dir}")
    except KeyboardInterrupt:
        phases.say("stopping the broker, webserver and daemon")
    finally:
        services.stop()


def end_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent dies (prctl PR_SET_PDEATHSIG), so
    a killed `make dev` leaves no broker or webserver behind. A no-op elsewhere."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> int:
    end_with_parent()
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        run(Settings.from_env())
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
