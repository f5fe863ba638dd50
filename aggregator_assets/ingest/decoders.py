"""Pick the decoder for a topic's value format; every decoder turns Kafka records into rows.

A decoder takes a RECORDS_SCHEMA table and returns a DecodedBatch (raw rows + quarantine rows,
each with its hour), keeping every record: a value it cannot read becomes a quarantine row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import pyarrow as pa

from aggregator_assets.config import TopicConfig
from aggregator_assets.ingest.decode import DecodedBatch, JsonDecoder
from aggregator_assets.ingest.registry_client import SchemaRegistryClient


class Decoder(Protocol):
    def decode(self, records: pa.Table) -> DecodedBatch: ...


def decoder_for(topic: TopicConfig, partitions_start: datetime, **services: object) -> Decoder:
    """The decoder of `topic.value_format`.

    `services` carries what a format needs: Avro topics need `schema_registry`, a
    SchemaRegistryClient (one per run: it caches the schemas it fetched).
    """
    if topic.value_format == "json":
        return JsonDecoder(topic, partitions_start)
    if topic.value_format == "avro":
        from aggregator_assets.ingest.decode_avro import AvroDecoder

        registry = services.get("schema_registry")
        if not isinstance(registry, SchemaRegistryClient):
            raise ValueError(
                f"topic {topic.name!r} has value_format avro: pass schema_registry="
                "SchemaRegistryResource.get_client() to read its schemas"
            )
        return AvroDecoder(topic, partitions_start, registry)
    raise NotImplementedError(f"value_format {topic.value_format!r} is not supported yet")
