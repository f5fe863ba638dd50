"""Retries: a transient failure is always retried, a deterministic one never is.

Through Dagster (`materialize`) against the real broker: the broker lost mid-run (frozen, or
restarted) fails the attempt with "no progress from the broker" and the retry completes the run
exactly once; a poison record fails the run at once, without the retry back-off, and the
deployment's run retries (deploy/dagster.yaml) skip it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance, RetryPolicy
from dagster._core.events import RunFailureReason
from dagster._core.execution.retries import auto_reexecution_should_retry_run
from kafka.admin import NewTopic
from kafka.errors import (
    KafkaConnectionError,
    OffsetOutOfRangeError,
    SaslAuthenticationFailedError,
    TopicAlreadyExistsError,
)

from aggregator_assets.demo.broker import free_port
from aggregator_assets.ingest.advance import advance_landing
from aggregator_assets.ingest.errors import IngestError, TransientIngestError, is_transient
from aggregator_assets.ingest.fetch import fetch_new_records
from aggregator_assets.ingest.registry_client import SchemaRegistryError
from aggregator_assets.resources import KafkaResource
from aggregator_assets.resources.kafka import BrokerUnavailableError
from aggregator_assets_tests.ingest.helpers import (
    BASE_HOUR,
    Sent,
    event,
    mixed_records,
    ms,
    pipeline,
    produce,
)
from aggregator_assets_tests.reliability.common import (
    create_topic,
    failure_text,
    lake_offset_counts,
    range_tags,
    run_raw,
)

DEPLOY_YAML = Path(__file__).parents[2] / "deploy" / "dagster.yaml"
ALL_HOURS = range_tags(BASE_HOUR - timedelta(hours=1), BASE_HOUR + timedelta(hours=2))
QUICK_RETRIES = RetryPolicy(max_retries=3, delay=0.2)


def _retries(result) -> int:
    return sum(1 for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY)


def _s3_error(code: str) -> OSError:
    return OSError(f"When reading 'b/k': AWS Error {code} during GetObject operation: x")


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (TransientIngestError("no progress from the broker"), True),
        (BrokerUnavailableError("cannot reach Kafka"), True),
        (KafkaConnectionError("socket disconnected"), True),
        (TimeoutError("no answer"), True),
        (_s3_error("SLOW_DOWN"), True),
        (_s3_error("NETWORK_CONNECTION"), True),
        (SchemaRegistryError("registry answered HTTP 503"), True),
        (IngestError("the topic was emptied or recreated"), False),
        (OffsetOutOfRangeError("gone"), False),
        (SaslAuthenticationFailedError("wrong password"), False),
        (SchemaRegistryError("registry answered HTTP 401", transient=False), False),
        (_s3_error("ACCESS_DENIED"), False),
        (_s3_error("NO_SUCH_BUCKET"), False),
        (OSError(30, "Read-only file system"), False),
        (OverflowError("date value out of range"), False),
        (ValueError("a bug met on some record"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_each_failure_is_classified(error, transient):
    assert is_transient(error) is transient
    try:
        raise RuntimeError("while landing") from error
    except RuntimeError as wrapped:
        assert is_transient(wrapped) is transient, "the cause decides"


@pytest.mark.parametrize("loss", ["frozen", "restarted"])
def test_broker_lost_mid_run_is_retried_and_the_retry_lands_exactly_once(
    private_broker, local_lake, monkeypatch, loss
):
    """After the first slice, the broker stops answering (SIGSTOP) or restarts (and is refilled:
    Tansu keeps topics in memory). The attempt fails with "no progress from the broker"; the
    broker is back before the retry, which continues after the slices already landed."""
    kafka = KafkaResource(
        bootstrap_servers=private_broker.bootstrap,
        request_timeout_ms=3_000,
        connect_timeout_ms=2_000,
        stall_timeout_s=2,
        fetch_max_bytes=16 * 1024,  # small fetches: most records are still on the broker
        max_partition_fetch_bytes=8 * 1024,
    )
    topic = create_topic(kafka)
    sent = mixed_records(hours=3, per_hour=400)
    produce(kafka, topic, sent)
    attempts = Counter()

    def lose_broker() -> None:
        if loss == "frozen":
            os.kill(private_broker.proc.pid, signal.SIGSTOP)
        else:
            private_broker.stop()

    def bring_it_back() -> None:
        if loss == "frozen":
            os.kill(private_broker.proc.pid, signal.SIGCONT)
            return
        private_broker.start()
        with kafka.admin() as admin, contextlib.suppress(TopicAlreadyExistsError):
            # The run's consumer, still polling, can make the new broker create it first.
            admin.create_topics([NewTopic(topic, 3, 1)])
        with kafka.producer() as producer:
            partitions = producer.partitions_for(topic)
        assert partitions == {0, 1, 2}, f"the restarted broker made {topic} with {partitions}"
        produce(kafka, topic, sent)

    def fetch_losing_the_broker(*args, **kwargs):
        attempts["fetch"] += 1
        first_attempt = attempts["fetch"] == 1
        try:
            for fetched in fetch_new_records(*args, **kwargs):
                attempts["slices"] += 1
                if first_attempt and attempts["slices"] == 1:
                    lose_broker()
                yield fetched
        except Exception:
            if first_attempt:
                bring_it_back()
            raise

    monkeypatch.setattr(
        "aggregator_assets.ingest.advance.fetch_new_records", fetch_losing_the_broker
    )
    monkeypatch.setattr(  # small slices: the first one lands before the broker is lost
        "aggregator_assets.assets.raw.advance_landing",
        functools.partial(advance_landing, slice_records=300),
    )
    result = run_raw(pipeline(topic), kafka, local_lake, tags=ALL_HOURS, retry_policy=QUICK_RETRIES)
    assert result.success, failure_text(result)
    assert _retries(result) >= 1 and attempts["fetch"] >= 2
    stalled = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert "no progress from the broker" in str(stalled[0].event_specific_data.error)
    seen = lake_offset_counts(local_lake.get_lake(), topic)
    per_partition = Counter(s.partition for s in sent)
    assert set(seen) == {(p, o) for p, n in per_partition.items() for o in range(n)}
    assert max(seen.values()) == 1, "the retry re-landed nothing"


def test_poison_record_fails_once_without_retries(kafka, local_lake, monkeypatch):
    """The poison record of issue #17.1 (a Kafka timestamp past year 9999 that used to raise
    OverflowError), replayed with the timestamp rule switched off: a deterministic failure."""
    monkeypatch.setattr(
        "aggregator_assets.ingest.advance.KafkaTimestampGuard",
        lambda decoder, *args, **kwargs: decoder,
        raising=False,
    )
    topic = create_topic(kafka, partitions=1)
    at = BASE_HOUR + timedelta(minutes=5)
    produce(kafka, topic, [Sent(0, event("d1", at, 1.0), ms(at) * 1000, at, True)])
    result = run_raw(pipeline(topic), kafka, local_lake, tags=ALL_HOURS, retry_policy=QUICK_RETRIES)
    assert not result.success
    assert _retries(result) == 0, "retrying a deterministic failure only delays it"
    assert "OverflowError" in failure_text(result)


def test_deployment_run_retries_skip_deterministic_failures_only(kafka, local_lake):
    """deploy/dagster.yaml retries failed runs; a raw run that failed deterministically tags
    itself so that it is not run again, a run whose transient failure outlasted its step's
    retries is."""
    settings = yaml.safe_load(DEPLOY_YAML.read_text())["run_retries"]
    down = KafkaResource(bootstrap_servers=f"127.0.0.1:{free_port()}", connect_timeout_ms=500)
    with DagsterInstance.ephemeral(settings={"run_retries": settings}) as instance:
        deterministic = run_raw(
            pipeline(f"never-created-{uuid.uuid4().hex[:6]}"),
            kafka,
            local_lake,
            "2026-11-20-10:00",
            retry_policy=None,
            instance=instance,
        )
        key = "2026-11-20-10:00"
        transient = run_raw(
            pipeline("t"), down, local_lake, key, retry_policy=None, instance=instance
        )
        for result, retried in ((deterministic, False), (transient, True)):
            assert not result.success
            run = instance.get_run_by_id(result.run_id)
            failure = RunFailureReason.STEP_FAILURE
            assert auto_reexecution_should_retry_run(instance, run, failure) is retried
