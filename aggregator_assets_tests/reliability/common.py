"""Helpers shared by the reliability tests: topic configs, runs and lake accounting."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from dagster import DagsterInstance, RetryPolicy
from dagster._serdes import serialize_value
from kafka.admin import NewTopic

from aggregator_assets.assets.raw import raw_asset
from aggregator_assets.config import PipelineConfig
from aggregator_assets.config.loader import parse_pipeline_config
from aggregator_assets.lake import Lake
from aggregator_assets.resources import KafkaResource, LakeResource
from aggregator_assets_tests.ingest.helpers import START, lake_contents, materialize_raw, offsets

FAST_RETRY = RetryPolicy(max_retries=2, delay=0.2)


def hour_key(hour: datetime) -> str:
    return f"{hour:%Y-%m-%d-%H}:00"


def range_tags(first: datetime, last: datetime) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": hour_key(first),
        "dagster/asset_partition_range_end": hour_key(last),
    }


def create_topic(kafka: KafkaResource, prefix: str = "rel", partitions: int = 3) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    with kafka.admin() as admin:
        admin.create_topics([NewTopic(name, partitions, 1)])
    return name


def epoch_pipeline(topic: str, fmt: str) -> PipelineConfig:
    """A topic whose event time is a number: `ts` in epoch seconds (float) or ms (int)."""
    return parse_pipeline_config(
        {
            "partitions_start": START.isoformat(),
            "topics": [
                {
                    "name": topic,
                    "event_time": {"field": "ts", "format": fmt},
                    "key_field": "device_id",
                    "fields": {
                        "device_id": {"type": "string", "required": True},
                        "ts": {"type": "float" if fmt == "epoch_s" else "int", "required": True},
                        "value": {"type": "float", "required": True},
                    },
                }
            ],
        }
    )


def run_raw(
    config: PipelineConfig,
    kafka: KafkaResource,
    lake: LakeResource,
    partition_key: str | None = None,
    tags: dict | None = None,
    retry_policy: RetryPolicy | None = FAST_RETRY,
    instance=None,
):
    asset = raw_asset(config.topics[0], config, retry_policy=retry_policy)
    return materialize_raw(asset, kafka, lake, partition_key, tags, instance)


def materialization_metadata(result) -> dict:
    """The metadata of the run's materializations (one per hour of a range, all alike)."""
    events = result.get_asset_materialization_events()
    assert events, "the run materialized nothing"
    return {k: v.value for k, v in events[0].materialization.metadata.items()}


def failure_text(result) -> str:
    """The message of the step failure and of every exception in its cause chain."""
    error = result.get_step_failure_events()[0].event_specific_data.error
    texts = []
    while error is not None:
        texts.append(error.message)
        error = error.cause
    return "\n".join(texts)


def lake_offset_counts(lake: Lake, topic: str) -> Counter:
    """How often each (partition, offset) appears in raw plus quarantine."""
    raw, quarantine = lake_contents(lake, topic)
    return Counter(offsets(raw) + offsets(quarantine))


def visible_files(lake: Lake, topic: str) -> dict[str, bytes]:
    """Every raw and quarantine file of a topic a reader would see, with its bytes."""
    paths = lake.list_files(f"raw/{topic}", ".parquet", recursive=True)
    paths += lake.list_files(f"quarantine/{topic}", ".parquet", recursive=True)
    return {p: lake.read_bytes(p) for p in paths}


def hours_between(first: datetime, last: datetime) -> list[datetime]:
    return [first + timedelta(hours=h) for h in range(int((last - first) / timedelta(hours=1)) + 1)]


def run_traces(instance: DagsterInstance, run_id: str) -> list[tuple[str, bytes]]:
    """The run's record (with its config) and every event of its event log, serialized."""
    events = instance.all_logs(run_id)
    traces = [(f"{run_id} event {i}", serialize_value(e).encode()) for i, e in enumerate(events)]
    return [*traces, (f"{run_id} run", serialize_value(instance.get_run_by_id(run_id)).encode())]


def files_under(roots: list[Path]) -> list[tuple[str, bytes]]:
    """(path, bytes) of every file under the roots: storage, compute logs, a lake."""
    return [(str(p), p.read_bytes()) for root in roots for p in root.rglob("*") if p.is_file()]


class CountingLake(Lake):
    """A local lake that counts the files read whole (commit markers, for the sensor)."""

    def __init__(self, url: str):
        super().__init__(url)
        self.reads: Counter = Counter()

    def read_bytes(self, relative: str) -> bytes:
        self.reads[relative] += 1
        return super().read_bytes(relative)
