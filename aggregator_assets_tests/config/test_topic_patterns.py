"""`topics: - pattern: ...` against the bundled broker: names come from a cache file that the
first load writes and `topics-refresh` renews; a load with a cache never asks the broker."""

from __future__ import annotations

import json
import uuid

import pytest
from kafka.admin import NewTopic

from aggregator_assets.cli import main as cli
from aggregator_assets.config import ConfigError
from aggregator_assets.config.loader import parse_pipeline_config
from aggregator_assets.demo.broker import free_port

TEMPLATE = {
    "event_time": {"field": "ts", "format": "epoch_ms"},
    "key_field": "source",
    "fields": {"source": {"type": "string", "required": True}, "ts": {"type": "int"}},
    "windows": [{"size": "1m"}],
}


def _config(prefix: str) -> dict:
    explicit = {**TEMPLATE, "name": f"{prefix}-b", "allowed_lateness": "1h"}
    return {
        "partitions_start": "2026-11-01T00:00:00Z",
        "topics": [explicit, {"pattern": f"{prefix}-*", **TEMPLATE}],
    }


def _create(kafka, *names: str) -> None:
    with kafka.admin() as admin:
        admin.create_topics([NewTopic(n, 1, 1) for n in names])


def test_pattern_topics_come_from_the_cached_broker_listing(kafka, broker, tmp_path, monkeypatch):
    prefix = f"pat-{uuid.uuid4().hex[:8]}"
    _create(kafka, f"{prefix}-a", f"{prefix}-b", f"other-{prefix}")
    cache = tmp_path / "topics.json"
    monkeypatch.setenv("AGGREGATOR_TOPICS_CACHE", str(cache))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap)

    config = parse_pipeline_config(_config(prefix))
    assert [t.name for t in config.topics] == [f"{prefix}-b", f"{prefix}-a"]
    assert config.topic(f"{prefix}-b").allowed_lateness == "1h", "a listed topic wins"
    assert config.topic(f"{prefix}-a").windows[0].name == "1m", "the template applies"
    assert f"{prefix}-a" in json.loads(cache.read_text())["topics"]

    _create(kafka, f"{prefix}-c")
    # The broker is gone for the next load: the cache alone decides.
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    assert len(parse_pipeline_config(_config(prefix)).topics) == 2
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap)
    assert cli(["topics-refresh"]) == 0
    names = [t.name for t in parse_pipeline_config(_config(prefix)).topics]
    assert names == [f"{prefix}-b", f"{prefix}-a", f"{prefix}-c"]


def test_without_cache_or_broker_the_error_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("AGGREGATOR_TOPICS_CACHE", str(tmp_path / "none.json"))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("KAFKA_CONNECT_TIMEOUT_MS", "2000")
    with pytest.raises(ConfigError, match="cannot list the broker's topics"):
        parse_pipeline_config(_config("x"))


def test_a_bad_template_fails_even_when_it_matches_nothing():
    bad = {**_config("y"), "topics": [{"pattern": "y-*", **TEMPLATE, "key_field": "nope"}]}
    with pytest.raises(ConfigError, match=r"pattern #1[\s\S]*key_field"):
        parse_pipeline_config(bad, broker_topics=["z-1"])
