"""Demo records as Avro in the Confluent wire format, with the schema registered first.

`avro_schema` derives a writer schema from a topic's config (every field nullable, json fields
as a string of JSON text); `AvroEncoder` registers it under `<topic>-value` and frames each body
as magic byte 0 + 4-byte schema id + Avro. Spoiled records break the way Avro producers do:
a truncated body, a wrong magic byte, JSON sent to the Avro topic, a required field left null.
"""

from __future__ import annotations

import json

import numpy as np

from aggregator_assets.config.models import TopicConfig
from aggregator_assets.ingest.encode_avro import WireEncoder
from aggregator_assets.ingest.registry_client import SchemaRegistryClient

AVRO_TYPES = {"string": "string", "float": "double", "int": "long", "bool": "boolean"}


def avro_schema(topic: TopicConfig) -> dict:
    """The writer schema the demo registers for `topic`: one nullable field per config field."""
    return {
        "type": "record",
        "name": topic.asset_name,
        "namespace": "aggregator_assets.demo",
        "fields": [
            {"name": name, "type": ["null", AVRO_TYPES.get(spec.type, "string")], "default": None}
            for name, spec in topic.fields.items()
        ],
    }


class AvroEncoder:
    """Encodes demo values of one topic; registering its schema on creation."""

    def __init__(self, topic: TopicConfig, registry: SchemaRegistryClient):
        self.wire = WireEncoder(f"{topic.name}-value", avro_schema(topic), registry)
        self.header = self.wire.header
        self.json_fields = [n for n, f in topic.fields.items() if f.type == "json"]

    def encode(self, value: dict) -> bytes:
        record = dict(value)
        for name in self.json_fields:
            if record.get(name) is not None:
                record[name] = json.dumps(record[name], separators=(",", ":"))
        return self.wire.encode(record)

    def spoil(self, kind: str, value: dict, json_text: bytes, rng: np.random.Generator) -> bytes:
        """`value` already spoiled by kind (field dropped, out of range); frame it as Avro."""
        if kind == "wrong_type":
            return json_text  # a JSON producer writing to the Avro topic
        body = self.encode(value)
        if kind == "invalid_json":
            return body[: len(self.header) + int((len(body) - len(self.header)) * rng.uniform())]
        if kind == "not_utf8":
            return b"\x01" + body[1:]
        return body
