"""Advance a topic's landing log to the broker's high watermark, fetching only new offsets.

Fetching (kafka-python, GIL-bound) and decoding/writing (DuckDB and Arrow, which release the
GIL) overlap on two threads; at most two slices are in memory at once.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from kafka import KafkaConsumer

from aggregator_assets.config import TopicConfig
from aggregator_assets.ingest.decoders import decoder_for
from aggregator_assets.ingest.fetch import FetchedSlice, fetch_new_records
from aggregator_assets.ingest.kafka_time import KafkaTimestampGuard
from aggregator_assets.ingest.landing import Commit, Landing, SliceId


@dataclass
class AdvanceResult:
    commits: list[Commit] = field(default_factory=list)
    records: int = 0

    @property
    def offsets(self) -> dict[int, list[int]]:
        """Partition -> [first, last] offset fetched by this run."""
        spans: dict[int, list[int]] = {}
        for c in self.commits:
            span = spans.setdefault(c.slice.partition, [c.slice.start, c.slice.end - 1])
            span[0], span[1] = min(span[0], c.slice.start), max(span[1], c.slice.end - 1)
        return spans


def advance_landing(
    consumer: KafkaConsumer,
    landing: Landing,
    topic: TopicConfig,
    partitions_start: datetime,
    slice_records: int = 100_000,
    on_slice: Callable[[Commit], None] | None = None,
    stall_timeout_s: float = 60.0,
    **services: object,
) -> AdvanceResult:
    decoder = KafkaTimestampGuard(
        decoder_for(topic, partitions_start, **services), partitions_start, topic.future_skew
    )
    cover = landing.cover()
    result = AdvanceResult()

    def land(fetched: FetchedSlice) -> Commit:
        slice_id = SliceId(fetched.partition, fetched.start, fetched.end)
        commit = landing.write(slice_id, decoder.decode(fetched.records), fetched.last)
        if on_slice:
            on_slice(commit)
        return commit

    pending: Future | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="land") as pool:
        for fetched in fetch_new_records(
            consumer,
            topic.name,
            landing.landed_positions(cover),
            slice_records,
            stall_timeout_s=stall_timeout_s,
        ):
            if pending is not None:
                result.commits.append(pending.result())
            result.records += fetched.records.num_rows
            pending = pool.submit(land, fetched)
        if pending is not None:
            result.commits.append(pending.result())
    return result
