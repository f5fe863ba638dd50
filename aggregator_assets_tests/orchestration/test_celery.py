"""The Celery executor switch, for real: a `dagster-celery` worker on the local RabbitMQ runs
the raw step of a partition, in its own process, and the hour lands in the lake."""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, execute_job, reconstructable

from aggregator_assets.ingest.hours import raw_hour_file
from aggregator_assets.lake import Lake
from aggregator_assets_tests.docs_commands import doc_block
from aggregator_assets_tests.ingest.helpers import BASE_HOUR, mixed_records, new_topic, produce
from aggregator_assets_tests.processes import stop_group

ROOT = Path(__file__).resolve().parents[2]


def _rabbitmq_up() -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 5672), 2):
        return True
    return False


def _wait_until_ready(worker: subprocess.Popen, log: Path, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while b" ready." not in log.read_bytes():
        assert worker.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the celery worker did not start"
        time.sleep(0.5)


def worker_command(queue: str) -> str:
    """The worker command of docs/operations.md with its placeholders filled: the local RabbitMQ
    for the example broker URL, and this test's own queue (no other worker takes its tasks)."""
    text = doc_block("dagster-celery worker start").text
    filled = text.replace("pyamqp://user:pass@rabbit//", "pyamqp://guest@127.0.0.1//")
    filled = filled.replace("-q dagster", f"-q {queue}")
    assert "127.0.0.1" in filled and queue in filled, text
    return filled


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_celery_executor_runs_the_step_on_a_worker(tmp_path, kafka, broker, monkeypatch):
    if not _rabbitmq_up():
        pytest.skip("no RabbitMQ on 127.0.0.1:5672")
    topic = new_topic(kafka)
    produce(kafka, topic, mixed_records(hours=1))
    home = tmp_path / "dagster_home"
    home.mkdir()
    settings = {
        "DAGSTER_HOME": str(home),
        "CELERY_TEST_TOPIC": topic,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "LAKE_URL": str(tmp_path / "lake"),
        "AGGREGATOR_EXECUTOR": "celery",
        "CELERY_QUEUE": f"test-{uuid.uuid4().hex[:8]}",  # no other worker takes these tasks
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    bin_dir = str(Path(sys.executable).parent)  # dagster-celery starts `celery` from PATH
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            ["bash", "-c", worker_command(settings["CELERY_QUEUE"])],
            env=os.environ.copy(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # dagster-celery starts celery as a child: stop them together
        )
    try:
        _wait_until_ready(worker, tmp_path / "worker.log")
        location = importlib.import_module("aggregator_assets_tests.orchestration.celery_location")
        with DagsterInstance.get() as instance:
            result = execute_job(
                reconstructable(location.raw_job),
                instance=instance,
                tags={"dagster/partition": f"{BASE_HOUR:%Y-%m-%d-%H}:00"},
            )
            assert result.success, (tmp_path / "worker.log").read_text()[-3000:]
            starts = [
                e
                for e in instance.all_logs(result.run_id, of_type=DagsterEventType.STEP_START)
                if e.dagster_event
            ]
            assert starts and all(e.dagster_event.pid != os.getpid() for e in starts)
        lake = Lake(settings["LAKE_URL"])
        hour = lake.read_table(raw_hour_file(topic, BASE_HOUR))
        assert hour.num_rows == sum(1 for s in mixed_records(hours=1) if s.valid)
    finally:
        stop_group(worker, wait_s=20)
