"""Test topics with known contents: what was produced is what the lake must hold."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.compute as pc
from dagster import AssetsDefinition, materialize
from kafka.admin import NewTopic

from aggregator_assets.assets.raw import raw_asset
from aggregator_assets.assets.windows import window_assets
from aggregator_assets.config import PipelineConfig, TopicConfig
from aggregator_assets.config.loader import parse_pipeline_config
from aggregator_assets.lake import Lake
from aggregator_assets.resources import KafkaResource, LakeResource

START = datetime(2026, 11, 1, tzinfo=timezone.utc)
BASE_HOUR = datetime(2026, 11, 20, 10, tzinfo=timezone.utc)


def topic_entry(topic_name: str, lateness: str = "5m", timezone: str | None = None) -> dict:
    """The test topic's config entry: iso8601 `timestamp` (zone-less times read in `timezone`
    when given), a device key, a value, a battery level and a JSON metadata field."""
    time_spec = {"field": "timestamp", "format": "iso8601"}
    if timezone:
        time_spec["timezone"] = timezone
    return {
        "name": topic_name,
        "event_time": time_spec,
        "key_field": "device_id",
        "fields": {
            "device_id": {"type": "string", "required": True},
            "timestamp": {"type": "string", "required": True},
            "value": {"type": "float", "required": True},
            "battery_level": {"type": "int", "min": 0, "max": 100},
            "metadata": {"type": "json"},
        },
        "allowed_lateness": lateness,
    }


def one_topic_pipeline(topic: dict) -> PipelineConfig:
    return parse_pipeline_config({"partitions_start": START.isoformat(), "topics": [topic]})


def pipeline(topic_name: str, lateness: str = "5m", timezone: str | None = None) -> PipelineConfig:
    """The test topic (`topic_entry`) with a battery flag."""
    flags = {"is_valid_battery": {"field": "battery_level", "op": ">=", "value": 20}}
    return one_topic_pipeline(topic_entry(topic_name, lateness, timezone) | {"flags": flags})


@dataclass(frozen=True)
class Sent:
    partition: int
    value: bytes | None
    timestamp_ms: int
    event_time: datetime | None
    valid: bool


def event(device: str, at: datetime, value: float, battery: int = 50, **extra) -> bytes:
    body = {
        "device_id": device,
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "value": value,
        "battery_level": battery,
        "metadata": {"fw": "1.0", "tags": ["x"]},
    }
    return json.dumps(body | extra).encode()


def new_topic(kafka: KafkaResource, partitions: int = 3) -> str:
    name = f"test-{uuid.uuid4().hex[:10]}"
    with kafka.admin() as admin:
        admin.create_topics([NewTopic(name, partitions, 1)])
    return name


def produce(kafka: KafkaResource, topic: str, sent: list[Sent]) -> None:
    with kafka.producer() as producer:
        for s in sent:
            producer.send(
                topic, value=s.value, key=b"k", partition=s.partition, timestamp_ms=s.timestamp_ms
            )
        producer.flush()


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def mixed_records(hours: int = 3, per_hour: int = 40, partitions: int = 3) -> list[Sent]:
    """On-time, late, out-of-order and invalid records spread over `hours` hours."""
    out: list[Sent] = []
    for h in range(hours):
        for i in range(per_hour):
            at = BASE_HOUR + timedelta(hours=h, seconds=i * 3600 / per_hour)
            arrival = at + timedelta(seconds=2)
            if i % 10 == 3:  # late: arrives 2 hours after its event time
                arrival = at + timedelta(hours=2)
            if i % 10 == 5:  # out of order within the lateness
                at = at - timedelta(minutes=1)
            out.append(Sent(i % partitions, event(f"d{i % 4}", at, i * 1.5), ms(arrival), at, True))
        bad_at = BASE_HOUR + timedelta(hours=h, minutes=30)
        for value in (b"{not json", b"\xff\xfe", None, event("d1", bad_at, 1.0, battery=400)):
            out.append(Sent(h % partitions, value, ms(bad_at), None, False))
    out.sort(key=lambda s: s.timestamp_ms)
    return out


def lake_contents(lake: Lake, topic: str) -> tuple[pa.Table, pa.Table]:
    """Every raw and quarantine row currently visible in the lake for a topic."""
    tables = []
    for stage in ("raw", "quarantine"):
        files = [f for f in lake.list_files(f"{stage}/{topic}", ".parquet", recursive=True)]
        parts = [lake.read_table(f) for f in files]
        tables.append(pa.concat_tables(parts) if parts else None)
    return tables[0], tables[1]


def offsets(table: pa.Table | None) -> list[tuple[int, int]]:
    if table is None:
        return []
    partitions, offsets_ = table["kafka_partition"].to_pylist(), table["kafka_offset"].to_pylist()
    return list(zip(partitions, offsets_, strict=True))


def topic_config(config: PipelineConfig) -> TopicConfig:
    return config.topics[0]


def sorted_rows(table: pa.Table) -> pa.Table:
    return table.take(
        pc.sort_indices(table, [("kafka_partition", "ascending"), ("kafka_offset", "ascending")])
    )


def materialize_raw(
    asset: AssetsDefinition,
    kafka: KafkaResource,
    lake: LakeResource,
    partition_key: str | None = None,
    tags: dict | None = None,
    instance=None,
):
    """One in-process run of a raw asset; failures are returned, not raised."""
    return materialize(
        [asset],
        partition_key=partition_key,
        tags=tags,
        resources={"kafka": kafka, "lake": lake},
        raise_on_error=False,
        instance=instance,
    )


def materialize_topic(
    config: PipelineConfig,
    kafka: KafkaResource,
    lake: LakeResource,
    first_hour: datetime,
    last_hour: datetime,
):
    """One ranged run of the first topic's raw asset and its windows assets, through Dagster."""
    topic = config.topics[0]
    return materialize(
        [raw_asset(topic, config, retry_policy=None), *window_assets(config)],
        resources={"kafka": kafka, "lake": lake},
        tags={
            "dagster/asset_partition_range_start": f"{first_hour:%Y-%m-%d-%H}:00",
            "dagster/asset_partition_range_end": f"{last_hour:%Y-%m-%d-%H}:00",
        },
    )
