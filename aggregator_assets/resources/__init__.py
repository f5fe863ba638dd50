"""Dagster resources: the Kafka cluster and the lake, configured per environment."""

from aggregator_assets.resources.kafka import KafkaResource
from aggregator_assets.resources.lake import LakeResource

__all__ = ["KafkaResource", "LakeResource"]
