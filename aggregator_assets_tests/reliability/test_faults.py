"""Faults around a run: the broker down or restarted, S3 failing, the lake folder unwritable.

Every test ends the same way: either the run succeeded and the lake holds each produced record
exactly once, or the run failed with an error that says what happened, nothing partial is
visible, and a later run (after the fault is gone) completes exactly once.
A run killed with SIGKILL mid-write is covered by
`aggregator_assets_tests/ingest/test_raw_invariants.py::test_run_killed_mid_write_leaves_nothing_partial`.
"""

from __future__ import annotations

import functools
import subprocess
import threading
import uuid
from collections import Counter
from datetime import timedelta

import boto3
import pytest
from dagster import DagsterEventType, RetryPolicy
from kafka.admin import NewTopic

from aggregator_assets.assets.raw import RAW_RETRY_POLICY, raw_asset
from aggregator_assets.demo.broker import free_port
from aggregator_assets.ingest.advance import advance_landing
from aggregator_assets.ingest.fetch import fetch_new_records
from aggregator_assets.ingest.landing import Landing
from aggregator_assets.resources import KafkaResource, LakeResource
from aggregator_assets.resources.lake import S3Settings
from aggregator_assets_tests.ingest.helpers import BASE_HOUR, mixed_records, pipeline, produce
from aggregator_assets_tests.reliability.common import (
    create_topic,
    failure_text,
    lake_offset_counts,
    range_tags,
    run_raw,
    visible_files,
)
from aggregator_assets_tests.reliability.faulty_s3 import FaultyS3Proxy

ALL_HOURS = range_tags(BASE_HOUR - timedelta(hours=1), BASE_HOUR + timedelta(hours=2))


def _retries(result) -> int:
    return sum(1 for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY)


def _assert_exactly_once(lake, topic, sent):
    seen = lake_offset_counts(lake, topic)
    assert max(seen.values()) == 1, "a record is in the lake twice"
    per_partition = Counter(s.partition for s in sent)
    assert set(seen) == {(p, o) for p, n in per_partition.items() for o in range(n)}


@pytest.fixture
def loaded(kafka):
    topic = create_topic(kafka)
    sent = mixed_records()
    produce(kafka, topic, sent)
    return topic, sent, pipeline(topic)


# -- the broker -------------------------------------------------------------------------------


def test_raw_asset_carries_a_retry_policy():
    config = pipeline("t")
    asset = raw_asset(config.topics[0], config)
    assert asset.op.retry_policy == RAW_RETRY_POLICY
    assert RAW_RETRY_POLICY.max_retries >= 3


def test_broker_down_when_a_run_starts_fails_clearly_after_retries(local_lake):
    down = KafkaResource(bootstrap_servers=f"127.0.0.1:{free_port()}", connect_timeout_ms=1000)
    result = run_raw(pipeline("iot"), down, local_lake, "2026-11-20-10:00")
    assert not result.success
    assert _retries(result) == 2, "a broker that is down is transient: the run retries"
    text = failure_text(result)
    assert f"Kafka at {down.bootstrap_servers}" in text
    assert not local_lake.get_lake().list_files("", recursive=True), "nothing was written"


def test_integrity_errors_are_not_retried(kafka, local_lake):
    result = run_raw(
        pipeline(f"never-created-{uuid.uuid4().hex[:6]}"), kafka, local_lake, "2026-11-20-10:00"
    )
    assert not result.success
    assert "does not exist on the broker" in failure_text(result)
    assert _retries(result) == 0, "retrying cannot fix a missing topic or lost offsets"


@pytest.mark.parametrize("comes_back", ["with-its-data", "empty"])
def test_broker_restarted_during_a_run(private_broker, local_lake, monkeypatch, comes_back):
    """A restart after the first fetched slice: the run completes or fails clearly, never doubles.

    Tansu keeps topics in memory, so "with its data" (what a real cluster does) is simulated by
    producing the same records again, which recreates identical offsets and fingerprints.
    """
    kafka = KafkaResource(
        bootstrap_servers=private_broker.bootstrap,
        request_timeout_ms=5_000,
        connect_timeout_ms=5_000,
        # Refilling takes seconds; an empty broker should fail the run fast.
        stall_timeout_s=30 if comes_back == "with-its-data" else 4,
        fetch_max_bytes=16 * 1024,  # small fetches: most records are still on the broker
        max_partition_fetch_bytes=8 * 1024,
    )
    topic = create_topic(kafka)
    sent = mixed_records(hours=3, per_hour=1500)
    produce(kafka, topic, sent)
    slices = []

    def fetch_then_restart(*args, **kwargs):
        for fetched in fetch_new_records(*args, **kwargs):
            slices.append(fetched)
            if len(slices) == 1:
                private_broker.restart()
                if comes_back == "with-its-data":
                    with kafka.admin() as admin:
                        admin.create_topics([NewTopic(topic, 3, 1)], raise_errors=False)
                    produce(kafka, topic, sent)
            yield fetched

    monkeypatch.setattr("aggregator_assets.ingest.advance.fetch_new_records", fetch_then_restart)
    monkeypatch.setattr(  # small slices: several commits in one run
        "aggregator_assets.assets.raw.advance_landing",
        functools.partial(advance_landing, slice_records=500),
    )
    lake = local_lake.get_lake()
    result = run_raw(pipeline(topic), kafka, local_lake, tags=ALL_HOURS, retry_policy=None)
    assert len(slices) > 1 or not result.success
    if comes_back == "with-its-data":
        assert result.success, failure_text(result)
        _assert_exactly_once(lake, topic, sent)
        return
    assert not result.success
    assert "no progress from the broker" in failure_text(result)
    assert not visible_files(lake, topic), "a failed run writes no hour file"
    landed = Counter(
        (c.slice.partition, o)
        for c in Landing(lake, topic).commits()
        for o in range(c.slice.start, c.slice.end)
    )
    assert landed and max(landed.values()) == 1, "slices landed before the restart, once each"
    monkeypatch.undo()
    again = run_raw(pipeline(topic), kafka, local_lake, tags=ALL_HOURS, retry_policy=None)
    # The restarted broker may or may not have re-created the topic (empty) from the first run's
    # still-polling consumer: either way the run refuses, saying why, and the lake is untouched.
    refusals = ("emptied or recreated", "does not exist on the broker")
    assert not again.success and any(r in failure_text(again) for r in refusals)
    assert not visible_files(lake, topic)
    assert (
        Counter(
            (c.slice.partition, o)
            for c in Landing(lake, topic).commits()
            for o in range(c.slice.start, c.slice.end)
        )
        == landed
    ), "the refused run landed nothing"


# -- S3 -----------------------------------------------------------------------------------------


def _s3_lake(s3_endpoint: str, via: str) -> LakeResource:
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **creds).create_bucket(
        Bucket=bucket
    )
    return LakeResource(
        url=f"s3://{bucket}/lake", s3=S3Settings(endpoint_url=via, region_name="us-east-1", **creds)
    )


def test_transient_s3_errors_are_retried_and_lose_nothing(kafka, s3_endpoint, loaded):
    topic, sent, config = loaded
    attempts = Counter()

    def first_attempt_of_early_writes_fails(method: str, path: str) -> int | None:
        # The first 8 distinct writes each fail once (500 or 503), then go through.
        if method not in ("PUT", "POST", "DELETE"):
            return None
        attempts[method, path] += 1
        if attempts[method, path] == 1 and len(attempts) <= 8:
            return 503 if len(attempts) % 2 else 500
        return None

    with FaultyS3Proxy(s3_endpoint, first_attempt_of_early_writes_fails) as proxy:
        lake = _s3_lake(s3_endpoint, via=proxy.url)
        result = run_raw(config, kafka, lake, tags=ALL_HOURS)
        assert result.success, failure_text(result)
        assert proxy.injected() == 8
        _assert_exactly_once(lake.get_lake(), topic, sent)


def test_persistent_s3_errors_fail_the_run_with_nothing_partial(kafka, s3_endpoint, loaded):
    topic, sent, config = loaded
    broken = threading.Event()

    def hour_files_fail(method: str, path: str) -> int | None:
        # Landing succeeds; from the first hour file on, every write fails for good.
        if "/raw/" in path or "/quarantine/" in path:
            broken.set()
        return 503 if broken.is_set() and method in ("PUT", "POST", "DELETE") else None

    with FaultyS3Proxy(s3_endpoint, hour_files_fail) as proxy:
        lake = _s3_lake(s3_endpoint, via=proxy.url)
        result = run_raw(config, kafka, lake, tags=ALL_HOURS, retry_policy=RetryPolicy(1, 0.1))
        assert not result.success
        assert _retries(result) == 1
        assert "SLOW_DOWN" in failure_text(result)
    direct = _s3_lake(s3_endpoint, via=s3_endpoint)  # same settings, no proxy
    direct = LakeResource(url=lake.url, s3=direct.s3)
    assert not visible_files(direct.get_lake(), topic), "no hour file may appear half-written"
    result = run_raw(config, kafka, direct, tags=ALL_HOURS)
    assert result.success, failure_text(result)
    _assert_exactly_once(direct.get_lake(), topic, sent)


# -- the lake folder ------------------------------------------------------------------------


def test_lake_root_that_is_a_file_fails_clearly(kafka, tmp_path, loaded):
    _, _, config = loaded
    root = tmp_path / "lake"
    root.write_text("not a folder")
    result = run_raw(config, kafka, LakeResource(url=str(root)), tags=ALL_HOURS)
    assert not result.success
    assert str(root) in failure_text(result)
    assert root.read_text() == "not a folder"


def test_a_file_where_a_topic_folder_should_be_fails_clearly(kafka, local_lake, loaded):
    topic, sent, config = loaded
    lake = local_lake.get_lake()
    blocker = f"raw/{topic}"
    lake.write_bytes(blocker, b"in the way")
    result = run_raw(config, kafka, local_lake, tags=ALL_HOURS)
    assert not result.success
    assert lake.path(blocker) in failure_text(result)
    lake.delete(blocker)
    assert not visible_files(lake, topic)
    assert run_raw(config, kafka, local_lake, tags=ALL_HOURS).success
    _assert_exactly_once(lake, topic, sent)


@pytest.fixture
def read_only_dir(tmp_path):
    target = tmp_path / "ro"
    target.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(target)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr.decode().strip()}")
    yield target
    subprocess.run(["umount", str(target)], check=True)


def test_read_only_lake_fails_clearly(kafka, read_only_dir, loaded):
    _, _, config = loaded
    result = run_raw(config, kafka, LakeResource(url=str(read_only_dir)), tags=ALL_HOURS)
    assert not result.success
    text = failure_text(result)
    assert str(read_only_dir) in text and "Read-only file system" in text
