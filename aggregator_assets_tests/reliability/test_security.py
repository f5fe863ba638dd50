"""Security: secrets stay out of every trace of a run; names never escape the lake or SQL.

The bundled broker (Tansu 0.6, in-memory storage) accepts `--authentication`, but `tansu user
create` fails against it ("early eof") and no SASL client can authenticate, so SASL is tested
here as configuration mapping plus a run whose SASL handshake fails, which is the path most
likely to leak a password into an error message.
"""

from __future__ import annotations

import secrets

import pytest
from dagster import DagsterInstance, EnvVar

from aggregator_assets.config.loader import ConfigError, parse_pipeline_config
from aggregator_assets.lake.paths import safe_segment
from aggregator_assets.resources import KafkaResource, LakeResource
from aggregator_assets_tests.ingest.helpers import (
    START,
    mixed_records,
    pipeline,
    produce,
)
from aggregator_assets_tests.reliability.common import (
    create_topic,
    files_under,
    run_raw,
    run_traces,
)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_settings_map_to_the_kafka_client(mechanism):
    config = KafkaResource(
        bootstrap_servers="a:9092, b:9092",
        security_protocol="SASL_SSL",
        sasl_mechanism=mechanism,
        sasl_username="user",
        sasl_password="pw",
        ssl_cafile="/ca.pem",
        ssl_password="key-pw",
    ).client_config()
    assert config["bootstrap_servers"] == ["a:9092", "b:9092"]
    assert (config["security_protocol"], config["sasl_mechanism"]) == ("SASL_SSL", mechanism)
    assert (config["sasl_plain_username"], config["sasl_plain_password"]) == ("user", "pw")
    assert (config["ssl_cafile"], config["ssl_password"]) == ("/ca.pem", "key-pw")


def test_plaintext_sends_no_credentials_and_bad_settings_are_refused():
    config = KafkaResource(bootstrap_servers="a:1", sasl_password="pw").client_config()
    assert "sasl_plain_password" not in config and "ssl_password" not in config
    with pytest.raises(ValueError, match="security_protocol"):
        KafkaResource(bootstrap_servers="a:1", security_protocol="SASL").client_config()
    with pytest.raises(ValueError, match="sasl_mechanism"):
        KafkaResource(
            bootstrap_servers="a:1", security_protocol="SASL_PLAINTEXT", sasl_mechanism="GSSAPI"
        ).client_config()


def test_a_planted_secret_appears_in_no_log_event_or_file(broker, tmp_path, monkeypatch):
    secret = f"pw-{secrets.token_hex(16)}"
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", secret)
    home, lake_dir = tmp_path / "dagster_home", tmp_path / "lake"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    plain = KafkaResource(bootstrap_servers=broker.bootstrap, request_timeout_ms=10_000)
    topic = create_topic(plain)
    produce(plain, topic, mixed_records(hours=1))
    config, lake = pipeline(topic), LakeResource(url=str(lake_dir))
    common = {"bootstrap_servers": broker.bootstrap, "sasl_username": "ingest"}
    ok = KafkaResource(**common, sasl_password=EnvVar("KAFKA_SASL_PASSWORD"))
    refused = KafkaResource(  # a SASL handshake the broker cannot complete: the error path
        **common,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_password=EnvVar("KAFKA_SASL_PASSWORD"),
        connect_timeout_ms=1500,
    )
    with DagsterInstance.from_config(str(home)) as instance:
        good = run_raw(config, ok, lake, "2026-11-20-10:00", instance=instance)
        bad = run_raw(config, refused, lake, "2026-11-20-10:00", instance=instance)
        assert good.success and not bad.success
        traces = run_traces(instance, good.run_id) + run_traces(instance, bad.run_id)
    traces += files_under([home, lake_dir])  # storage, captured compute logs, the lake
    assert any(b"authenticate with) Kafka" in data for _, data in traces), "the scan sees the logs"
    leaks = [where for where, data in traces if secret.encode() in data]
    assert not leaks, f"the secret leaked into {leaks}"


@pytest.mark.parametrize(
    "name", ["a/b", "..", "../lake", "raw/../../etc", "", "a b", "x;y", "iot\n", "iot\n/../x"]
)
def test_topic_names_that_could_escape_a_path_are_refused_by_config(name):
    with pytest.raises(ConfigError, match="not a valid Kafka topic name"):
        pipeline(name)
    with pytest.raises(ValueError):
        safe_segment(name)


@pytest.mark.parametrize("field", ['x"; DROP TABLE records; --', "a b", "__hour", "value\n"])
def test_field_names_that_could_change_sql_are_refused_by_config(field):
    topic = {
        "name": "t",
        "event_time": {"field": "ts", "format": "epoch_ms"},
        "key_field": "ts",
        "fields": {"ts": {"type": "int"}, field: {"type": "string"}},
    }
    with pytest.raises(ConfigError, match="fields"):
        parse_pipeline_config({"partitions_start": START.isoformat(), "topics": [topic]})
