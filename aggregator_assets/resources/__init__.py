"""Dagster resources: the Kafka cluster, the lake and the schema registry, per environment."""

from aggregator_assets.resources.kafka import KafkaResource
from aggregator_assets.resources.lake import LakeResource
from aggregator_assets.resources.schema_registry import SchemaRegistryResource

__all__ = ["KafkaResource", "LakeResource", "SchemaRegistryResource"]
