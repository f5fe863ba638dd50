"""Kafka topics as external assets, so lineage starts at the stream itself."""

from __future__ import annotations

from dagster import AssetKey, AssetSpec

from aggregator_assets.config import TopicConfig


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
