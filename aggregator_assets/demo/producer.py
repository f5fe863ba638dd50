"""Fill the demo topics with realistic traffic: a backdated span, then optionally live.

`produce_demo` creates the topics, then sends each topic's records (see `records.py`) slice by
slice across all topics, so the topics grow together as they would in production. Backdated
history is sent as fast as the client allows; with `follow=True` it then keeps producing in
real time, one slice a second, until interrupted (Ctrl-C), and returns the counts so far.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TextIO

from kafka.errors import for_code

from aggregator_assets.config.models import PipelineConfig, TopicConfig
from aggregator_assets.demo.avro import AvroEncoder
from aggregator_assets.demo.records import (
    LATE,
    SLICE_S,
    VALID,
    DemoRecord,
    TopicStream,
    topic_rates,
)
from aggregator_assets.ingest.registry_client import SchemaRegistryClient
from aggregator_assets.resources.kafka import KafkaResource

TOPIC_EXISTS = 36  # Kafka error code TOPIC_ALREADY_EXISTS
LIVE_SLICE_S = 1.0


@dataclass
class DemoStats:
    """Records sent to one topic, by kind. `valid + late` have well-formed payloads."""

    valid: int = 0
    late: int = 0
    malformed: Counter = field(default_factory=Counter)
    first_timestamp_ms: int | None = None
    last_timestamp_ms: int | None = None

    @property
    def malformed_total(self) -> int:
        return sum(self.malformed.values())

    @property
    def total(self) -> int:
        return self.valid + self.late + self.malformed_total

    def count(self, records: list[DemoRecord]) -> None:
        if not records:
            return
        kinds = Counter(r.kind for r in records)
        self.valid += kinds.pop(VALID, 0)
        self.late += kinds.pop(LATE, 0)
        self.malformed.update(kinds)
        first, last = records[0].timestamp_ms, records[-1].timestamp_ms
        if self.first_timestamp_ms is None:
            self.first_timestamp_ms = first
        self.last_timestamp_ms = last


def create_topics(kafka: KafkaResource, topics: list[str], partitions: int = 3) -> list[str]:
    """Create missing topics; returns the names that were new. Existing topics are left alone."""
    spec = {name: {"num_partitions": partitions, "replication_factor": -1} for name in topics}
    with kafka.admin() as admin:
        response = admin.create_topics(spec, raise_errors=False)
        created = []
        for topic in response["topics"]:
            if topic["error_code"] == 0:
                created.append(topic["name"])
            elif topic["error_code"] != TOPIC_EXISTS:
                error = for_code(topic["error_code"])
                raise error(f"cannot create topic {topic['name']}: {topic['error_message']}")
        if created:
            admin.wait_for_topics(created)
    return created


class _Progress:
    """One status line on stderr: records sent per topic, total and send rate."""

    def __init__(self, stream: TextIO | None, stats: dict[str, DemoStats]):
        self.stream, self.stats = stream, stats
        self.started = self.shown = time.monotonic()
        self.tty = bool(stream and stream.isatty())

    def update(self, final: bool = False) -> None:
        now = time.monotonic()
        if not self.stream or (not final and now - self.shown < (0.5 if self.tty else 10)):
            return
        self.shown = now
        total = sum(s.total for s in self.stats.values())
        per_topic = "  ".join(f"{name} {s.total:,}" for name, s in self.stats.items())
        rate = total / max(now - self.started, 1e-9)
        line = f"{per_topic}  | {total:,} sent, {rate:,.0f}/s"
        end = "\n" if final or not self.tty else ""
        self.stream.write(("\r" if self.tty else "") + line + end)
        self.stream.flush()


def produce_demo(
    kafka: KafkaResource,
    config: PipelineConfig,
    *,
    topics: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    rate: float = 50.0,
    malformed: float = 0.0,
    late: float = 0.0,
    seed: int = 0,
    follow: bool = False,
    partitions: int = 3,
    progress: bool | TextIO = False,
    value_format: str | None = None,
    schema_registry_url: str | None = None,
) -> dict[str, DemoStats]:
    """Send demo traffic for event times in [start, end) to the configured topics.

    `rate` is events per second of event time over all chosen topics (split by
    `topic_rates`); `end` defaults to now and `start` to one hour before `end`. Records are
    keyed by device id and stamped with their arrival time (event time plus a realistic
    delay, or more than the topic's allowed lateness for the `late` share). The records of a
    topic are exactly `generate_records(topic, start, end, ...)`, unless `follow` continues
    past `end` live. `progress` writes a status line to stderr (or to the stream given).
    `value_format` ("json" | "avro") overrides each topic's configured `value_format`; Avro
    topics register their schema as `<topic>-value` at `schema_registry_url` first.
    """
    chosen = [config.topic(name) for name in topics] if topics else list(config.topics)
    end = end or datetime.now(timezone.utc)
    start = start or end - timedelta(hours=1)
    if start >= end:
        raise ValueError(f"start {start} is not before end {end}")
    create_topics(kafka, [t.name for t in chosen], partitions)
    encoders = _avro_encoders(chosen, value_format, schema_registry_url)
    streams = _streams(chosen, start, end, rate, malformed, late, seed, follow, encoders)
    stats = {t.name: DemoStats() for t in chosen}
    shown = _Progress(sys.stderr if progress is True else progress or None, stats)
    failures: list[Exception] = []
    with kafka.producer() as producer:

        def send(name: str, records: list[DemoRecord]) -> None:
            for record in records:
                producer.send(
                    name, key=record.key, value=record.value, timestamp_ms=record.timestamp_ms
                ).add_errback(failures.append)
            stats[name].count(records)
            if failures:
                raise RuntimeError(f"sending to {name} failed: {failures[0]!r}")

        edge, stop = start.timestamp(), end.timestamp()
        try:
            while edge < stop:
                edge = min(edge + SLICE_S, stop)
                for name, stream in streams.items():
                    send(name, stream.advance(edge))
                shown.update()
            if follow:
                while True:
                    edge += LIVE_SLICE_S
                    time.sleep(max(0.0, edge - time.time()))
                    for name, stream in streams.items():
                        send(name, stream.advance(edge))
                    shown.update()
            for name, stream in streams.items():
                send(name, stream.drain())
        except KeyboardInterrupt:
            pass
        producer.flush()
    shown.update(final=True)
    if failures:
        raise RuntimeError(f"{len(failures)} records were not delivered: {failures[0]!r}")
    return stats


def _avro_encoders(
    chosen: list[TopicConfig], value_format: str | None, registry_url: str | None
) -> dict[str, AvroEncoder]:
    if value_format not in (None, "json", "avro"):
        raise ValueError(f"value format {value_format!r} is not json or avro")
    avro = [t for t in chosen if (value_format or t.value_format) == "avro"]
    if avro and not registry_url:
        raise ValueError("Avro topics need a schema registry URL (--schema-registry)")
    registry = SchemaRegistryClient(registry_url) if avro else None
    return {t.name: AvroEncoder(t, registry) for t in avro}


def _streams(
    chosen, start, end, rate, malformed, late, seed, follow, encoders
) -> dict[str, TopicStream]:
    rates = topic_rates(chosen, rate)
    return {
        t.name: TopicStream(
            t,
            start.timestamp(),
            rates[t.name],
            malformed=malformed,
            late=late,
            seed=seed,
            end=None if follow else end.timestamp(),
            avro=encoders.get(t.name),
        )
        for t in chosen
    }
