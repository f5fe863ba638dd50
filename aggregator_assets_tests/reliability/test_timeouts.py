"""Every conversation with the broker, the registry or S3 ends within a configured time.

A misconfigured security protocol (a TLS client against the plaintext test broker) and a
black-hole listener (a socket that accepts and never answers) used to hang kafka-python's
bootstrap for as long as the run lived. Runs and sensor ticks must fail with a clear error
within their bound, and leave no thread or socket behind. The registry's bound is tested in
test_registry_client.py.
"""

from __future__ import annotations

import threading
import time

import pytest

from aggregator_assets.environments import resources_for_environment
from aggregator_assets.resources import KafkaResource, LakeResource
from aggregator_assets.resources.kafka import BrokerUnavailableError
from aggregator_assets.resources.lake import S3Settings
from aggregator_assets.sensors import read_high_watermarks
from aggregator_assets_tests.ingest.helpers import pipeline
from aggregator_assets_tests.reliability.common import create_topic, failure_text, run_raw

TLS = ["SSL", "SASL_SSL"]


def kafka_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith(("kafka-", "highwater-"))}


@pytest.fixture
def no_thread_left_behind():
    before = kafka_threads()
    yield
    deadline = time.monotonic() + 5
    while kafka_threads() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not kafka_threads() - before, "a client kept running after its connection gave up"


@pytest.mark.parametrize("protocol", TLS)
def test_wrong_security_protocol_fails_the_run_within_the_connect_timeout(
    broker, local_lake, monkeypatch, protocol, no_thread_left_behind
):
    """Issue #17.3: KAFKA_SECURITY_PROTOCOL=SASL_SSL against a plaintext listener hung > 800 s."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap)
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", protocol)
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "ingest")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "not-used")
    monkeypatch.setenv("KAFKA_CONNECT_TIMEOUT_MS", "1500")
    kafka = resources_for_environment()["kafka"]
    assert kafka.connect_timeout_ms == 1500
    topic = create_topic(KafkaResource(bootstrap_servers=broker.bootstrap), partitions=1)
    started = time.monotonic()
    result = run_raw(pipeline(topic), kafka, local_lake, "2026-11-20-10:00", retry_policy=None)
    assert time.monotonic() - started < 15
    assert not result.success
    text = failure_text(result)
    assert "did not complete a connection within 1.5s" in text
    assert f"security_protocol {protocol}" in text and "KAFKA_SECURITY_PROTOCOL" in text


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT", *TLS])
def test_a_listener_that_never_answers_fails_within_the_connect_timeout(
    black_hole, protocol, no_thread_left_behind
):
    kafka = KafkaResource(
        bootstrap_servers=black_hole,
        security_protocol=protocol,
        sasl_username="ingest",
        sasl_password="not-used",
        connect_timeout_ms=1000,
    )
    started = time.monotonic()
    with pytest.raises(BrokerUnavailableError, match=black_hole), kafka.consumer():
        pass
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("where", ["black hole", "TLS to plaintext"])
def test_a_sensor_tick_against_a_silent_broker_leaves_no_thread_behind(
    broker, black_hole, where, no_thread_left_behind
):
    """The tick was bounded, but a hung client thread stayed behind on every tick."""
    if where == "black hole":
        kafka = KafkaResource(bootstrap_servers=black_hole)
    else:
        kafka = KafkaResource(bootstrap_servers=broker.bootstrap, security_protocol="SSL")
    started = time.monotonic()
    with pytest.raises((BrokerUnavailableError, TimeoutError)):
        read_high_watermarks(kafka, "any-topic", {}, timeout_s=1.5)
    assert time.monotonic() - started < 6


def test_a_silent_s3_endpoint_fails_within_the_configured_bound(black_hole, monkeypatch):
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    s3 = S3Settings(
        endpoint_url=f"http://{black_hole}", region_name="us-east-1", max_attempts=2, **creds
    )
    lake = LakeResource(
        url="s3://bucket/lake",
        s3=s3,
        s3_connect_timeout_s=0.5,
        s3_request_timeout_s=0.5,
    ).get_lake()
    started = time.monotonic()
    with pytest.raises(OSError, match="Timeout was reached"):
        lake.list_files("_landing/t/commits", ".json")
    assert time.monotonic() - started < 5
    monkeypatch.setenv("LAKE_URL", "s3://bucket/lake")
    monkeypatch.setenv("S3_REQUEST_TIMEOUT_S", "0.5")
    monkeypatch.setenv("S3_CONNECT_TIMEOUT_S", "0.25")
    configured = resources_for_environment()["lake"]
    assert (configured.s3_request_timeout_s, configured.s3_connect_timeout_s) == (0.5, 0.25)
