"""Arrow schemas of the raw and quarantine tables of a topic (see docs/dev/CONTRACTS.md)."""

from __future__ import annotations

import pyarrow as pa

from aggregator_assets.config import TopicConfig

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "json": pa.string(),
}
DUCKDB_TYPES = {"string": "VARCHAR", "float": "DOUBLE", "int": "BIGINT", "bool": "BOOLEAN"}
UTC_US = pa.timestamp("us", tz="UTC")
UTC_MS = pa.timestamp("ms", tz="UTC")

PIPELINE_COLUMNS = [
    pa.field("event_time", UTC_US),
    pa.field("kafka_partition", pa.int32()),
    pa.field("kafka_offset", pa.int64()),
    pa.field("kafka_timestamp", UTC_MS),
    pa.field("is_late", pa.bool_()),
]

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("kafka_partition", pa.int32()),
        pa.field("kafka_offset", pa.int64()),
        pa.field("kafka_timestamp", UTC_MS),
        pa.field("key", pa.binary()),
        pa.field("value", pa.binary()),
        pa.field("event_time", UTC_US),
    ]
)

# What the fetcher hands to the decoder: one row per Kafka record, in offset order.
RECORDS_SCHEMA = pa.schema(
    [
        pa.field("kafka_partition", pa.int32()),
        pa.field("kafka_offset", pa.int64()),
        pa.field("kafka_timestamp", UTC_MS),
        pa.field("key", pa.binary()),
        pa.field("value", pa.binary()),
    ]
)


def raw_schema(topic: TopicConfig) -> pa.Schema:
    fields = [pa.field(name, ARROW_TYPES[spec.type]) for name, spec in topic.fields.items()]
    flags = [pa.field(name, pa.bool_()) for name in topic.flags]
    return pa.schema(fields + flags + PIPELINE_COLUMNS)
