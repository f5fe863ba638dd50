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


class Decoder(Protocol):
    def decode(self, records: pa.Table) -> DecodedBatch: ...


def decoder_for(topic: TopicConfig, partitions_start: datetime, **services: object) -> Decoder:
    """The decoder of `topic.value_format`; `services` carries e.g. a schema registry client."""
    if topic.value_format == "json":
        return JsonDecoder(topic, partitions_start)
    raise NotImplementedError(f"value_format {topic.value_format!r} is not supported yet")
