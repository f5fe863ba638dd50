"""Avro topics against the real broker and a local stand-in Schema Registry.

No Schema Registry distribution installs here, so `LocalSchemaRegistry` (an http.server on
127.0.0.1, free port, in a thread) speaks the registry's REST API: POST /subjects/{s}/versions
-> {"id": n}, GET /schemas/ids/{id} -> {"schema": "..."} or 404. It counts requests, so the
tests prove one GET per schema id per run. A real registry only needs another URL.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from dagster import materialize
from fastavro import parse_schema, schemaless_writer

from aggregator_assets.assets.raw import raw_asset
from aggregator_assets.config.loader import parse_pipeline_config
from aggregator_assets.demo.registry import LocalSchemaRegistry
from aggregator_assets.ingest.advance import advance_landing
from aggregator_assets.ingest.landing import Landing
from aggregator_assets.ingest.registry_client import SchemaRegistryClient, SchemaRegistryError
from aggregator_assets.resources import SchemaRegistryResource
from aggregator_assets_tests.ingest.helpers import (
    BASE_HOUR,
    START,
    Sent,
    lake_contents,
    ms,
    new_topic,
    produce,
)

V1 = {
    "type": "record",
    "name": "reading",
    "fields": [
        {"name": "device_id", "type": "string"},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "value", "type": ["null", "double"]},
    ],
}
V2 = V1 | {"fields": [*V1["fields"], {"name": "battery", "type": ["null", "int"], "default": None}]}
BROKEN = V1 | {"fields": [*V1["fields"][:2], {"name": "value", "type": "string"}]}


def pipeline(topic: str):
    return parse_pipeline_config(
        {
            "partitions_start": START.isoformat(),
            "topics": [
                {
                    "name": topic,
                    "value_format": "avro",
                    "event_time": {"field": "ts", "format": "epoch_ms"},
                    "key_field": "device_id",
                    "fields": {
                        "device_id": {"type": "string", "required": True},
                        "ts": {"type": "int", "required": True},
                        "value": {"type": "float", "min": 0},
                        "battery": {"type": "int"},
                    },
                }
            ],
        }
    )


def framed(schema_id: int, schema: dict, record: dict) -> bytes:
    out = io.BytesIO()
    out.write(b"\0" + schema_id.to_bytes(4, "big"))
    schemaless_writer(out, parse_schema(schema), record)
    return out.getvalue()


@pytest.fixture
def registry():
    registry = LocalSchemaRegistry().start()
    yield registry
    registry.stop()


def test_schema_evolution_and_bad_input_land_with_reasons(kafka, local_lake, registry):
    topic = new_topic(kafka, partitions=1)
    client = SchemaRegistryClient(registry.url)
    v1, v2 = (client.register(f"{topic}-value", s) for s in (V1, V2))
    broken = client.register(f"{topic}-value", BROKEN)
    h0, h1 = BASE_HOUR, BASE_HOUR + timedelta(hours=1)
    good1 = framed(v1, V1, {"device_id": "a", "ts": ms(h0), "value": 1.5})
    sent = [
        good1,
        framed(v2, V2, {"device_id": "b", "ts": ms(h1), "value": 2.5, "battery": 80}),
        b"\x01" + good1[1:],  # wrong magic byte
        b"\0\0\0\x03\xe7" + good1[5:],  # schema id 999: unknown
        good1[:-3],  # truncated
        good1 + b"\x00\x01",  # does not match its schema (bytes left over)
        json.dumps({"device_id": "c", "ts": ms(h0)}).encode(),  # JSON sent to an Avro topic
        framed(broken, BROKEN, {"device_id": "d", "ts": ms(h0), "value": "x"}),
        framed(v1, V1, {"device_id": "e", "ts": ms(h0), "value": -1.0}),  # out of range
    ]
    produce(kafka, topic, [Sent(0, v, ms(h0) + 1000 * i, None, True) for i, v in enumerate(sent)])
    asset = raw_asset(pipeline(topic).topics[0], pipeline(topic))
    resources = {
        "kafka": kafka,
        "lake": local_lake,
        "schema_registry": SchemaRegistryResource(url=registry.url),
    }
    for hour in (h0, h1):
        assert materialize([asset], partition_key=f"{hour:%Y-%m-%d-%H}:00", resources=resources)

    raw, quarantine = lake_contents(local_lake.get_lake(), topic)
    rows = sorted(raw.to_pylist(), key=lambda r: r["kafka_offset"])
    assert [(r["device_id"], r["value"], r["battery"]) for r in rows] == [
        ("a", 1.5, None),  # v1 has no battery: null
        ("b", 2.5, 80),  # added in v2: present from the hour it arrives
    ]
    reasons = dict(
        zip(quarantine["kafka_offset"].to_pylist(), quarantine["reason"].to_pylist(), strict=True)
    )
    assert reasons == {
        2: "wrong_magic_byte",
        3: "unknown_schema_id",
        4: "truncated_value",
        5: "schema_mismatch",
        6: "json_not_avro",
        7: "incompatible_schema",
        8: "out_of_range",
    }
    assert raw.num_rows + quarantine.num_rows == len(sent)  # nothing lost
    for schema_id in (v1, v2, broken, 999):  # one GET per schema id per run, two runs
        assert registry.requests[f"GET /schemas/ids/{schema_id}"] <= 2


def test_unreachable_registry_fails_the_run_and_lands_nothing(kafka, local_lake, registry):
    topic = new_topic(kafka, partitions=1)
    client = SchemaRegistryClient(registry.url)
    v1 = client.register(f"{topic}-value", V1)
    value = framed(v1, V1, {"device_id": "a", "ts": ms(BASE_HOUR), "value": 1.0})
    produce(kafka, topic, [Sent(0, value, ms(BASE_HOUR), None, True)])
    config = pipeline(topic)
    landing = Landing(local_lake.get_lake(), topic)
    down = SchemaRegistryClient("http://127.0.0.1:9", timeout_s=2)
    with kafka.consumer() as consumer, pytest.raises(SchemaRegistryError, match="unreachable"):
        advance_landing(
            consumer, landing, config.topics[0], config.partitions_start, schema_registry=down
        )
    assert landing.commits() == []
    with kafka.consumer() as consumer:  # a retry with the registry back succeeds
        result = advance_landing(
            consumer,
            landing,
            config.topics[0],
            config.partitions_start,
            schema_registry=SchemaRegistryClient(registry.url),
        )
    assert result.records == 1 and len(landing.commits()) == 1
