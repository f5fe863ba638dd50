"""Arrow schemas of the raw and quarantine tables of a topic (see docs/dev/CONTRACTS.md).

A payload field may be named like a pipeline column (`event_time`, `kafka_offset`, ...). Raw then
keeps the field's name and writes the pipeline column as `pipeline_<name>`
(`TopicConfig.pipeline_columns`). Inside the pipeline (decoder output, landing pieces) the
pipeline columns always keep their own names, so the landing log and the hour builder read them
the same way for every topic; the clashing field travels as `__payload_<name>` until the hour
file is written. Both schemas list the same columns in the same order, so renaming is positional.
"""

from __future__ import annotations

import pyarrow as pa

from aggregator_assets.config import TopicConfig
from aggregator_assets.config.names import takes_pipeline_name

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


def landing_name(name: str) -> str:
    """The name of payload field `name` inside the pipeline (see the module docstring)."""
    return f"__payload_{name}" if takes_pipeline_name(name) else name


def landing_schema(topic: TopicConfig) -> pa.Schema:
    """Decoder output and landing pieces: pipeline columns under their own names."""
    fields = [
        pa.field(landing_name(name), ARROW_TYPES[spec.type]) for name, spec in topic.fields.items()
    ]
    flags = [pa.field(name, pa.bool_()) for name in topic.flags]
    return pa.schema(fields + flags + PIPELINE_COLUMNS)


def raw_schema(topic: TopicConfig) -> pa.Schema:
    """Raw hour files: payload fields under their names, then flags, then pipeline columns."""
    written = topic.pipeline_columns
    landing = landing_schema(topic)
    names = [name for name in topic.fields] + list(topic.flags)
    names += [written[f.name] for f in PIPELINE_COLUMNS]
    return pa.schema([f.with_name(name) for f, name in zip(landing, names, strict=True)])
