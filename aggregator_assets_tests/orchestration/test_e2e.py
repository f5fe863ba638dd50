"""End to end: the production commands of docs/operations.md (dagster-webserver and
dagster-daemon on a Postgres instance configured by deploy/dagster.yaml) ingest demo traffic into
the lake and build its windows with nobody launching a run."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance

from aggregator_assets.config import load_pipeline_config
from aggregator_assets.demo.broker import free_port
from aggregator_assets.demo.postgres import instance_env
from aggregator_assets.demo.producer import produce_demo
from aggregator_assets.lake import Lake
from aggregator_assets_tests.docs_commands import doc_block
from aggregator_assets_tests.processes import stop_group

psycopg2 = pytest.importorskip("psycopg2")

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 300  # a 60 s sensor interval, queued runs one topic at a time, a busy 2-core machine


def _wait_for_partitions(instance, key, wanted, daemon, daemon_log, timeout_s=WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    materialized: set[str] = set()
    while time.monotonic() < deadline:
        assert daemon.poll() is None, daemon_log.read_text()[-3000:]
        materialized = set(instance.get_materialized_partitions(key))
        if wanted <= materialized:
            return
        time.sleep(3)
    raise AssertionError(
        f"{key.to_user_string()}: materialized {sorted(materialized)}, wanted {sorted(wanted)}\n"
        + daemon_log.read_text()[-3000:]
    )


def _wait_for_materialization(instance, key, daemon, daemon_log, timeout_s=WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert daemon.poll() is None, daemon_log.read_text()[-3000:]
        if instance.get_latest_materialization_event(key) is not None:
            return
        time.sleep(3)
    raise AssertionError(
        f"{key.to_user_string()} never materialized\n" + daemon_log.read_text()[-3000:]
    )


def production_commands(home: Path, port: int) -> str:
    """The docs' deployment block with its placeholders filled for this machine: the instance
    folder, and the webserver on a free port of loopback instead of 0.0.0.0:3000."""
    text = doc_block("dagster-daemon run -m aggregator_assets.definitions").text
    filled = text.replace("/opt/dagster/home", str(home))
    filled = filled.replace("-h 0.0.0.0 -p 3000", f"-h 127.0.0.1 -p {port}")
    assert filled.count(str(home)) == 1 and f"-p {port}" in filled, text
    return filled


def _wait_for_webserver(port: int, daemon, daemon_log: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        assert daemon.poll() is None, daemon_log.read_text()[-3000:]
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as r,
        ):
            if r.status == 200:
                return
        time.sleep(2)
    raise AssertionError("the webserver did not answer\n" + daemon_log.read_text()[-3000:])


@pytest.mark.e2e
@pytest.mark.timeout(3 * WAIT_S + 120)
def test_daemon_ingests_closed_hours_without_a_manual_launch(
    tmp_path, broker, kafka, database, monkeypatch
):
    home = tmp_path / "dagster_home"
    home.mkdir()
    lake_url = str(tmp_path / "lake")
    port = free_port()
    env = os.environ | {
        "DAGSTER_HOME": str(home),
        **instance_env(database),
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "LAKE_URL": lake_url,
        "DUCKDB_PATH": str(tmp_path / "lake.duckdb"),
    }
    config = load_pipeline_config()
    now = datetime.now(timezone.utc)
    start = now - timedelta(hours=3)
    produce_demo(kafka, config, topics=["iot-events"], start=start, end=now, rate=2)

    log = open(tmp_path / "daemon.log", "wb")  # noqa: SIM115
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    daemon = subprocess.Popen(
        ["bash", "-c", production_commands(home, port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # webserver, daemon, their gRPC code servers and runs: one group
    )
    try:
        _wait_for_webserver(port, daemon, tmp_path / "daemon.log")
        for name in [k for k in env if k.startswith("DAGSTER_")]:
            monkeypatch.setenv(name, env[name])
        instance = DagsterInstance.get()
        # The two latest hours that are closed once data up to `now` has landed: an hour closes
        # at its end plus the allowed lateness (a margin keeps runs just after :00 from racing).
        closed_by = now - config.topic("iot-events").lateness - timedelta(minutes=2)
        hours_with_data = {
            (closed_by - timedelta(hours=h)).replace(minute=0, second=0, microsecond=0)
            for h in (1, 2)
        }
        wanted = {h.strftime("%Y-%m-%d-%H:00") for h in hours_with_data}
        daemon_log = tmp_path / "daemon.log"
        # The topic sensor requests raw hours; the automation sensor then builds their windows.
        for key in ("raw_iot_events", "windows_iot_events_1m"):
            _wait_for_partitions(instance, AssetKey(key), wanted, daemon, daemon_log)
        # The landing log's upkeep runs once on a fresh deployment (then hourly).
        _wait_for_materialization(instance, AssetKey("landing_maintenance"), daemon, daemon_log)
        lake = Lake(lake_url)
        for folder in ("raw/iot-events", "windows/iot-events/1m"):
            assert len(lake.list_files(folder, ".parquet", recursive=True)) >= len(wanted)
        ingestion = [r for r in instance.get_runs() if r.tags.get("aggregator/topic")]
        assert ingestion and all(r.tags.get("dagster/sensor_name") for r in ingestion)
        instance.dispose()
    finally:
        stop_group(daemon)
        log.close()
