"""Avro ingest speed beside JSON ingest and kafka-python's bare fetch, in one run.

The script starts the bundled broker (or uses --bootstrap) and the local stand-in Schema
Registry (aggregator_assets.demo.registry), produces the same N iot-events into one event hour
twice, as JSON and as Confluent-framed Avro, then measures in fresh subprocesses, each with its
own peak RSS:
  bare - kafka-python consumer polling every record of the Avro topic, nothing else;
  json - our raw asset's work on the JSON topic: fetch, decode + validate, landing, hour file;
  avro - the same on the Avro topic: fetch, fastavro decode, the same validation, hour file.
Prints records/s, the ratios avro/bare (target >= 0.5) and avro/json, peak memory and the load
average (the machine is shared: compare figures only within one run).

    .venv/bin/python benchmarks/avro_ingest_benchmark.py --events 500000
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import uuid
from datetime import datetime

from ingest_benchmark import iso_ms, kafka_bootstrap, run_bare, timed_ingest
from ingest_benchmark import produce as produce_json


def iot_topic(name: str, value_format: str):
    from aggregator_assets.config.loader import load_pipeline_config, parse_pipeline_config

    demo = load_pipeline_config().model_dump(mode="json")
    iot = next(t for t in demo["topics"] if t["name"] == "iot-events")
    iot |= {"name": name, "value_format": value_format}
    return parse_pipeline_config({"partitions_start": "2026-11-01T00:00:00Z", "topics": [iot]})


def produce_avro(bootstrap: str, registry_url: str, topic: str, events: int, partitions: int):
    """The same events as the JSON topic, as Confluent-framed Avro with a registered schema."""
    from fastavro import parse_schema, schemaless_writer

    from aggregator_assets.demo.avro import avro_schema
    from aggregator_assets.ingest.registry_client import SchemaRegistryClient

    schema = avro_schema(iot_topic(topic, "avro").topics[0])
    schema_id = SchemaRegistryClient(registry_url).register(f"{topic}-value", schema)
    parsed, header = parse_schema(schema), b"\0" + schema_id.to_bytes(4, "big")

    def encode(i: int, at: datetime) -> bytes:
        body = io.BytesIO()
        body.write(header)
        record = {
            "event_duration": i % 97 / 10,
            "device_type": "thermostat",
            "device_id": f"dev-{i % 500:04d}",
            "timestamp": iso_ms(at),
            "location": f"building-{i % 7}",
            "value": round((i % 1000) / 7, 4),
            "unit": "C",
            "battery_level": i % 101,
            "signal_strength": -40 - i % 70,
            "metadata": f'{{"fw":"2.1.{i % 9}","tags":["a"]}}',
        }
        schemaless_writer(body, parsed, record)
        return body.getvalue()

    produce_json(bootstrap, topic, events, partitions, encode=encode, what="producing avro")


def run_ingest(bootstrap: str, topic: str, events: int, registry_url: str | None) -> dict:
    from aggregator_assets.lake import Lake
    from aggregator_assets.resources import KafkaResource, SchemaRegistryResource

    config = iot_topic(topic, "avro" if registry_url else "json")
    services = (
        {"schema_registry": SchemaRegistryResource(url=registry_url).get_client()}
        if registry_url
        else {}
    )
    lake = Lake(tempfile.mkdtemp(prefix="bench-lake-"))
    kafka = KafkaResource(bootstrap_servers=bootstrap)
    return timed_ingest(kafka, lake, config, events, **services)


def measure(mode: str, bootstrap: str, topic: str, events: int, registry: str = "") -> dict:
    args = ["--child", mode, "--bootstrap", bootstrap, "--topic", topic, "--events", str(events)]
    out = subprocess.run(
        [sys.executable, __file__, *args, "--registry", registry],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["load"] = os.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--bootstrap", help="use this Kafka instead of starting the bundled broker")
    parser.add_argument("--topic")
    parser.add_argument("--registry", default="")
    parser.add_argument("--child", choices=["bare", "json", "avro"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "bare":
            result = run_bare(args.bootstrap, args.topic, args.events)
        else:
            result = run_ingest(args.bootstrap, args.topic, args.events, args.registry or None)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    from aggregator_assets.demo.registry import LocalSchemaRegistry

    run = uuid.uuid4().hex[:8]
    json_topic, avro_topic = f"bench-json-{run}", f"bench-avro-{run}"
    figures = {}
    with kafka_bootstrap(args.bootstrap) as bootstrap:
        registry = LocalSchemaRegistry().start()
        print(f"{args.events:,} iot-events in one hour, {args.partitions} partitions, {bootstrap}")
        print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
        try:
            produce_json(bootstrap, json_topic, args.events, args.partitions)
            produce_avro(bootstrap, registry.url, avro_topic, args.events, args.partitions)
            for mode, topic, url in (
                ("bare", avro_topic, ""),
                ("json", json_topic, ""),
                ("avro", avro_topic, registry.url),
            ):
                print(f"  measuring {mode} ...", file=sys.stderr)
                figures[mode] = measure(mode, bootstrap, topic, args.events, url)
        finally:
            registry.stop()
    rate = {mode: f["records"] / f["seconds"] for mode, f in figures.items()}
    for mode, label in (("bare", "bare fetch"), ("json", "json ingest"), ("avro", "avro ingest")):
        f = figures[mode]
        split = (
            f"  (landing {f['landing_seconds']:.1f}s, hour file {f['hour_file_seconds']:.1f}s)"
            if "landing_seconds" in f
            else ""
        )
        print(
            f"{label:<12}: {rate[mode]:>10,.0f} records/s  peak RSS {f['peak_rss_mb']:,.0f} MB"
            f"  load {f['load']:.2f}{split}"
        )
    print(f"ratio avro/bare: {rate['avro'] / rate['bare']:.2f}  (target >= 0.50)")
    print(f"ratio json/bare: {rate['json'] / rate['bare']:.2f}")
    print(f"ratio avro/json: {rate['avro'] / rate['json']:.2f}")
    print(f"schema registry requests: {dict(registry.requests)}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
