"""Avro values in the Confluent wire format, with the writer schema registered first.

`WireEncoder` registers a schema under a subject once (the registry returns the same id for the
same schema) and frames each body as magic byte 0 + 4-byte big-endian schema id + Avro binary,
the format `decode_avro` reads. Used by the demo producer and by `publish_windows`.
"""

from __future__ import annotations

import io

from fastavro import parse_schema, schemaless_writer

from aggregator_assets.ingest.registry_client import SchemaRegistryClient


class WireEncoder:
    """Encodes records of one writer schema, registered under `subject` on creation."""

    def __init__(self, subject: str, schema: dict, registry: SchemaRegistryClient):
        self.schema_id = registry.register(subject, schema)
        self.header = b"\0" + self.schema_id.to_bytes(4, "big")
        self.parsed = parse_schema(schema)

    def encode(self, record: dict) -> bytes:
        out = io.BytesIO()
        out.write(self.header)
        schemaless_writer(out, self.parsed, record)
        return out.getvalue()
