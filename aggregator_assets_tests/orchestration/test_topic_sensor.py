"""Topic sensors against a real broker and a real (temporary) lake."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from dagster import AssetKey, DagsterInstance, Definitions, build_sensor_context, materialize
from kafka.errors import KafkaError

from aggregator_assets.assets.raw import raw_asset
from aggregator_assets.assets.topics import topic_spec
from aggregator_assets.demo.broker import free_port
from aggregator_assets.resources import KafkaResource
from aggregator_assets.resources.kafka import BrokerUnavailableError
from aggregator_assets.sensors import (
    BatchCursor,
    SensorSettings,
    TopicCursor,
    plan_tick,
    read_high_watermarks,
    topic_sensor,
    topic_sensors,
)
from aggregator_assets_tests.ingest.helpers import (
    BASE_HOUR,
    Sent,
    event,
    mixed_records,
    ms,
    new_topic,
    pipeline,
    produce,
)

SETTINGS = SensorSettings(max_requests_per_tick=1000)
KEY = "%Y-%m-%d-%H:%M"


class Ticker:
    """Evaluates a topic sensor tick after tick, carrying its cursor like the daemon does."""

    def __init__(self, config, kafka, lake):
        self.config, self.kafka, self.lake = config, kafka, lake
        self.topic = config.topics[0]
        self.sensor = topic_sensor(self.topic, config, SETTINGS)
        self.instance = DagsterInstance.ephemeral()
        self.defs = Definitions(
            assets=[topic_spec(self.topic), raw_asset(self.topic, config)],
            sensors=[self.sensor],
            resources={"kafka": kafka, "lake": lake},
        )
        self.cursor: str | None = None

    def tick(self):
        with build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"kafka": self.kafka, "lake": self.lake},
            definitions=self.defs,
        ) as context:
            result = self.sensor.evaluate_tick(context)
        self.cursor = result.cursor
        return result

    def materialize(self, partition_key: str) -> None:
        result = materialize(
            [raw_asset(self.topic, self.config)],
            partition_key=partition_key,
            resources={"kafka": self.kafka, "lake": self.lake},
        )
        assert result.success


def by_key(result) -> dict[str, object]:
    """Hour -> the request building it (a ranged request builds each hour of its range)."""
    out = {}
    for r in result.run_requests:
        start = r.partition_key or r.tags["dagster/asset_partition_range_start"]
        end = r.partition_key or r.tags["dagster/asset_partition_range_end"]
        hour = datetime.strptime(start, KEY)
        while hour <= datetime.strptime(end, KEY):
            out[hour.strftime(KEY)] = r
            hour += timedelta(hours=1)
    return out


@pytest.fixture
def loaded(kafka):
    name = new_topic(kafka)
    sent = mixed_records()
    produce(kafka, name, sent)
    return name, sent


def test_catch_up_then_closed_hours_with_stable_keys(kafka, local_lake, loaded):
    name, sent = loaded
    ticker = Ticker(pipeline(name), kafka, local_lake)

    first = ticker.tick()
    assert len(first.run_requests) == 1, "an empty landing behind the broker asks for a catch-up"
    catch_up = first.run_requests[0]
    assert catch_up.tags["aggregator/reason"] == "catch up"
    assert catch_up.tags["aggregator/topic"] == name
    (observation,) = first.asset_events
    assert observation.asset_key.to_user_string() == f"kafka_{ticker.topic.asset_name}"
    assert observation.metadata["ingestion_lag"].value == len(sent)
    assert sum(observation.metadata["end_offsets"].value.values()) == len(sent)

    ticker.materialize(catch_up.partition_key)
    second = ticker.tick()
    requests = by_key(second)
    hours = [(BASE_HOUR + timedelta(hours=h)).strftime(KEY) for h in range(3)]
    # Consecutive hours of a topic are one ranged run: the three closed hours with data, then
    # the empty hours closed since (each hour gets a file, for daily readers).
    (closed,) = second.run_requests
    assert closed.tags["aggregator/reason"] == "closed hour,empty hour"
    assert closed.tags["dagster/asset_partition_range_start"] == hours[0]
    assert all(requests[h] is closed for h in hours)
    assert closed.asset_selection == [AssetKey(f"raw_{ticker.topic.asset_name}")]
    assert catch_up.partition_key not in requests, "the caught-up hour already has its file"
    assert second.asset_events[0].metadata["ingestion_lag"].value == 0

    again = ticker.tick()
    assert again.run_requests == [], "hours already requested are not requested again"
    assert not again.asset_events, "an unchanged topic is not observed again"
    cursor = BatchCursor.from_json(ticker.cursor)
    assert [k.split(":")[1] for k in cursor.requested[name]][:3] == [h[:13] for h in hours]
    assert len(cursor.requested[name]) == len(requests)
    assert cursor.to_json() == ticker.cursor
    restarted = BatchCursor.from_json(ticker.cursor).topics[name]
    assert restarted.to_json() == cursor.topics[name].to_json()

    hour10 = BASE_HOUR.strftime(KEY)
    ticker.materialize(hour10)
    after = by_key(ticker.tick())
    assert hour10 not in after, "a built hour is not requested again for the same data"

    late_at = BASE_HOUR + timedelta(minutes=7)
    produce(
        kafka,
        name,
        [Sent(1, event("d9", late_at, 9.0), ms(datetime.now(timezone.utc)), late_at, True)],
    )
    ticker.materialize((BASE_HOUR + timedelta(hours=1)).strftime(KEY))  # lands the late record
    late = by_key(ticker.tick())
    assert late[hour10].tags["aggregator/reason"] == "late"
    assert late[hour10].run_key.startswith(f"{name}:{hour10}:")
    assert late[hour10].run_key not in cursor.requested[name], "late records make a new key"


def test_open_hour_is_not_requested(kafka, local_lake):
    name = new_topic(kafka, partitions=1)
    now = datetime.now(timezone.utc)
    produce(kafka, name, [Sent(0, event("d1", now, 1.0), ms(now), now, True)])
    ticker = Ticker(pipeline(name), kafka, local_lake)
    first = ticker.tick()
    ticker.materialize(first.run_requests[0].partition_key)
    requests = by_key(ticker.tick())
    assert now.replace(minute=0, second=0, microsecond=0).strftime(KEY) not in requests


def test_idle_partitions_close_hours_by_wall_clock(kafka, local_lake):
    name = new_topic(kafka, partitions=3)  # partitions 1 and 2 never receive a record
    at = BASE_HOUR + timedelta(minutes=10)
    produce(kafka, name, [Sent(0, event("d1", at, 1.0), ms(at), at, True)])
    config = pipeline(name)
    topic = config.topics[0]
    lake = local_lake.get_lake()
    Ticker(config, kafka, local_lake).materialize(BASE_HOUR.strftime(KEY))
    hws = read_high_watermarks(kafka, name, {}, 10)
    assert hws == {0: 1, 1: 0, 2: 0}

    hour_end = BASE_HOUR + timedelta(hours=1)
    early = plan_tick(topic, config, lake, hws, TopicCursor(), hour_end, SETTINGS)
    assert early.run_requests == [], "the hour is still open by the wall clock"
    assert early.watermark == hour_end - topic.lateness
    later = hour_end + 2 * topic.lateness + timedelta(minutes=1)
    # The hour's file exists and holds everything landed: a closed hour needs nothing more.
    plan = plan_tick(topic, config, lake, hws, TopicCursor(), later, SETTINGS)
    assert plan.watermark == later - topic.lateness
    assert plan.run_requests == []
    lake.delete(f"raw/{name}/year=2026/month=11/day=20/hour=10/part-0.parquet")
    plan = plan_tick(topic, config, lake, hws, TopicCursor(), later, SETTINGS)
    assert [r.partition_key for r in plan.run_requests] == [BASE_HOUR.strftime(KEY)]


def test_a_dead_broker_never_hangs_the_tick(local_lake):
    dead = KafkaResource(bootstrap_servers=f"127.0.0.1:{free_port()}", request_timeout_ms=2000)
    started = time.monotonic()
    with pytest.raises((TimeoutError, KafkaError, BrokerUnavailableError)):
        read_high_watermarks(dead, "nothing", {}, 2)
    assert time.monotonic() - started < 10


def test_one_sensor_per_batch_of_topics():
    config = pipeline("a-topic")
    assert [s.name for s in topic_sensors(config)] == ["batch_0_sensor"]
    assert topic_sensor(config.topics[0], config).name == "a_topic_topic_sensor"
    many = config.model_copy(
        update={
            "topics": [config.topics[0].model_copy(update={"name": f"t{i}"}) for i in range(5)],
            "topic_batch_size": 2,
        }
    )
    sensors = topic_sensors(many)
    assert [s.name for s in sensors] == ["batch_0_sensor", "batch_1_sensor", "batch_2_sensor"]
