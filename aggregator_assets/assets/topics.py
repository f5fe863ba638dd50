"""Kafka topics as external assets, so lineage starts at the stream itself; and their batches.

A batch is a group of up to `topic_batch_size` topics (in config order) that share one raw op,
one windows op and one topic sensor, so that one run can ingest many topics. Each topic keeps
its own assets (lineage and the UI stay per topic); only the op and the run are shared.
"""

from __future__ import annotations

from dataclasses import dataclass

from dagster import AssetKey, AssetSpec

from aggregator_assets.config import PipelineConfig, TopicConfig


@dataclass(frozen=True)
class TopicBatch:
    """Topics ingested by the same op: `raw_<name>`, `windows_<name>`, `<name>_sensor`."""

    name: str
    topics: tuple[TopicConfig, ...]


def topic_batches(config: PipelineConfig) -> list[TopicBatch]:
    """Consecutive topics of the config, `topic_batch_size` at a time.

    A batch of one topic is named after it (`raw_<topic>`, `<topic>_topic_sensor`, as before
    batching); larger ones are `batch_<n>` (`raw_batch_<n>`, `batch_<n>_sensor`).
    """
    size = config.topic_batch_size
    chunks = [tuple(config.topics[i : i + size]) for i in range(0, len(config.topics), size)]
    if size == 1:
        return [TopicBatch(f"{c[0].asset_name}_topic", c) for c in chunks]
    return [TopicBatch(f"batch_{n}", c) for n, c in enumerate(chunks)]


def topic_asset_key(topic: TopicConfig) -> AssetKey:
    return AssetKey(f"kafka_{topic.asset_name}")


def topic_spec(topic: TopicConfig) -> AssetSpec:
    return AssetSpec(
        key=topic_asset_key(topic),
        description=topic.description or f"Kafka topic {topic.name}",
        group_name=topic.asset_name,
        kinds={"kafka"},
        metadata={
            "topic": topic.name,
            "value_format": topic.value_format,
            "event_time": f"{topic.event_time.field} ({topic.event_time.format})",
            "key_field": topic.key_field,
            "allowed_lateness": topic.allowed_lateness,
        },
    )
