"""One round of the live tail: land every topic, then refresh provisional windows.

A round costs, for a topic without new records, one landing snapshot (three small listings) and
one fetch at the landed position per partition, whose response carries the high watermark. It
lands with `advance_landing`, the raw runs' own function, so the exactly-once rules are the
landing's: either path may land first, and slices landed twice are de-duplicated by offset.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pyarrow as pa
from kafka import KafkaConsumer, TopicPartition

from aggregator_assets.config.models import PipelineConfig, TopicConfig
from aggregator_assets.ingest.advance import advance_landing
from aggregator_assets.ingest.cover import Cover
from aggregator_assets.ingest.landing import Landing
from aggregator_assets.lake import Lake
from aggregator_assets.live.pieces import live_pieces
from aggregator_assets.live.windows import (
    open_hour_rows,
    provisional_file,
    provisional_windows,
    write_provisional,
)
from aggregator_assets.sensors import topic_watermark


@dataclass
class TopicRound:
    """What one round did for a topic, and where the topic stands after it."""

    topic: str
    landed_records: int
    landed_end: dict[int, int]
    high_watermarks: dict[int, int]
    max_event_time: dict[int, datetime]
    max_kafka_timestamp: datetime | None
    watermark: datetime | None
    seconds: float
    # window name -> provisional windows written this round (none when nothing could change)
    provisional: dict[str, pa.Table] = field(default_factory=dict)
    pieces: tuple = ()  # (path, take_from) of the live pieces: the live views' input

    @property
    def lag_records(self) -> int:
        return sum(max(0, hw - self.landed_end.get(p, 0)) for p, hw in self.high_watermarks.items())

    def lag_seconds(self, now: datetime) -> float:
        """0 when caught up; else how old the newest landed record's Kafka timestamp is."""
        if not self.lag_records:
            return 0.0
        if self.max_kafka_timestamp is None:
            return float("nan")
        return max(0.0, (now - self.max_kafka_timestamp).total_seconds())


def landed_times(cover: Cover) -> tuple[dict[int, datetime], datetime | None]:
    """Per partition the latest event time landed, and the latest Kafka timestamp overall."""
    event: dict[int, datetime] = {}
    stamps: list[datetime] = []
    marks = cover.checkpoint.partitions if cover.checkpoint else {}
    for p, mark in marks.items():
        if mark.max_event_time:
            event[p] = datetime.fromisoformat(mark.max_event_time)
        if mark.max_kafka_timestamp:
            stamps.append(datetime.fromisoformat(mark.max_kafka_timestamp))
    for p, chain in cover.chains.items():
        for covered in chain:
            c = covered.commit
            if c.max_event_time:
                t = datetime.fromisoformat(c.max_event_time)
                event[p] = max(event.get(p, t), t)
            stamp = getattr(c, "max_kafka_timestamp", None)
            if stamp:
                stamps.append(datetime.fromisoformat(stamp))
    return event, max(stamps) if stamps else None


def high_watermarks(consumer: KafkaConsumer, topic: str) -> dict[int, int]:
    """The high watermarks of the fetch responses `advance_landing` just read."""
    out = {}
    for p in consumer.partitions_for_topic(topic) or ():
        hw = consumer.highwater(TopicPartition(topic, p))
        if hw is not None:
            out[p] = hw
    return out


def tail_topic(
    consumer: KafkaConsumer,
    lake: Lake,
    topic: TopicConfig,
    config: PipelineConfig,
    now: datetime | None = None,
    **services: object,
) -> TopicRound:
    """Land what is new for one topic and rewrite its provisional windows."""
    started = time.monotonic()
    landing = Landing(lake, topic.name)
    # The consumer lives across rounds and topics: forget the last fetch's assignment and the
    # partitions it paused when caught up, or they would stay paused.
    consumer.unsubscribe()
    advanced = advance_landing(consumer, landing, topic, config.partitions_start, **services)
    cover = landing.cover()
    hws = high_watermarks(consumer, topic.name)
    event_times, stamp = landed_times(cover)
    now = now or datetime.now(timezone.utc)
    watermark = topic_watermark(cover.through, hws, event_times, now, topic.lateness)
    result = TopicRound(
        topic.name, advanced.records, cover.through, hws, event_times, stamp, watermark, 0.0
    )
    pieces = live_pieces(lake, landing, cover, topic.name)
    result.pieces = tuple((p.path, p.take_from) for p in pieces)
    raw_pieces = [p for p in pieces if p.kind == "raw"]
    # An idle topic without live rows keeps its (empty) provisional files: nothing to redo.
    quiet = not advanced.records and not raw_pieces
    if topic.windows:
        rows = None
        for window in topic.windows:
            if quiet and lake.exists(provisional_file(topic, window)):
                continue
            if rows is None:
                rows = open_hour_rows(lake, landing, topic, raw_pieces)
            table = provisional_windows(rows, topic, window, watermark)
            write_provisional(lake, topic, window, table)
            result.provisional[window.name] = table
    result.seconds = time.monotonic() - started
    return result
