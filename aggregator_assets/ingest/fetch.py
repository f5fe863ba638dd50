"""Read a topic's new records from Kafka as Arrow tables, one Kafka partition's slice at a time.

Records arrive already columnar (`columnar_fetch`): no Python object is built per record.

The lake records which offsets it already holds, so every run continues exactly where the
landed data ends. Before trusting that position, the fetcher re-reads the last landed record and
compares its fingerprint: a broker that lost or recreated the topic is detected, never ingested
on top of old offsets. The broker's end offsets and time index are not trusted either; the
high watermark of a real fetch response decides when a partition is caught up.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import OffsetOutOfRangeError

from aggregator_assets.ingest.columnar_fetch import RecordChunk, columnar
from aggregator_assets.ingest.errors import IngestError, TransientIngestError
from aggregator_assets.ingest.schema import RECORDS_SCHEMA


@dataclass(frozen=True)
class Fingerprint:
    """Identity of one Kafka record, to recognise it again at the same offset."""

    offset: int
    timestamp_ms: int
    crc: int

    @classmethod
    def of(cls, offset: int, timestamp_ms: int, value: bytes | None) -> Fingerprint:
        return cls(offset, timestamp_ms, -1 if value is None else zlib.crc32(value))


@dataclass
class _Partition:
    start: int
    verify: Fingerprint | None
    target: int | None = None
    next_offset: int = 0
    chunks: list[pa.RecordBatch] = field(default_factory=list)
    buffered: int = 0
    last: Fingerprint | None = None


@dataclass(frozen=True)
class FetchedSlice:
    """Consecutive records of one Kafka partition: offsets [start, end)."""

    partition: int
    start: int
    end: int
    records: pa.Table
    last: Fingerprint


def fetch_new_records(
    consumer: KafkaConsumer,
    topic: str,
    landed: dict[int, tuple[int, Fingerprint | None]],
    slice_records: int = 100_000,
    max_buffered: int = 150_000,
    stall_timeout_s: float = 60.0,
) -> Iterator[FetchedSlice]:
    """Yield every record after what the lake holds, up to each partition's high watermark.

    `landed` maps partition -> (next offset to ingest, fingerprint of the record before it).
    Memory is bounded: a slice is cut at `slice_records`, and whenever more than `max_buffered`
    records wait across partitions, the fullest partition is cut early.
    """
    consumer = columnar(consumer)
    partition_ids = consumer.partitions_for_topic(topic)
    if not partition_ids:
        raise IngestError(f"topic {topic!r} does not exist on the broker (or has no partitions)")
    state: dict[int, _Partition] = {}
    tps = [TopicPartition(topic, p) for p in sorted(partition_ids)]
    consumer.assign(tps)
    log_start = consumer.beginning_offsets(tps)
    for tp in tps:
        start, verify = landed.get(tp.partition, (log_start[tp], None))
        if log_start[tp] > start:
            raise IngestError(
                f"{topic}[{tp.partition}]: offsets {start}..{log_start[tp] - 1} were deleted by the"
                " broker (retention?) before they were ingested; the lake is unchanged. Restore"
                " them or accept the gap explicitly before ingesting further."
            )
        if verify is not None and log_start[tp] >= start:
            # Retention deleted the fingerprinted record (an idle topic): nothing to compare.
            verify = None
        state[tp.partition] = _Partition(start=start, verify=verify, next_offset=start)
        consumer.seek(tp, start - 1 if verify else start)
    missing = [p for p in landed if p not in state]
    if missing:
        raise IngestError(f"{topic}: partitions {missing} hold landed data but no longer exist")

    last_progress = time.monotonic()
    while True:
        try:
            # Columnar polls return one chunk per fetch response; the consumer's fetch byte limits
            # bound what one poll holds.
            polled = consumer.poll(timeout_ms=500)
        except OffsetOutOfRangeError as exc:
            raise IngestError(
                f"{topic}: the broker no longer has offsets the lake expects ({exc}); the topic was"
                " truncated or recreated. The lake is unchanged."
            ) from None
        for tp, chunks in polled.items():
            st = state[tp.partition]
            for chunk in chunks:
                if st.verify is not None:
                    chunk = _verified(topic, tp.partition, st, chunk)
                if chunk is not None:
                    st.chunks.append(chunk.batch)
                    st.buffered += len(chunk)
                    st.last = Fingerprint.of(*chunk.record(len(chunk) - 1))
                    st.next_offset = st.last.offset + 1
                    last_progress = time.monotonic()
        while sum(s.buffered for s in state.values()) > max_buffered:
            fullest = max(state, key=lambda p: state[p].buffered)
            yield _flush(fullest, state[fullest])
        for tp in tps:
            st = state[tp.partition]
            if st.target is None and (hw := consumer.highwater(tp)) is not None:
                _check_not_reset(topic, tp.partition, st, hw)
                st.target = hw
            done = (
                st.target is not None and st.verify is None and consumer.position(tp) >= st.target
            )
            if st.buffered >= slice_records or (done and st.buffered):
                yield _flush(tp.partition, st)
            if done:
                consumer.pause(tp)
        if all(
            s.target is not None and s.verify is None and not s.buffered for s in state.values()
        ) and all(consumer.position(tp) >= state[tp.partition].target for tp in tps):
            return
        if time.monotonic() - last_progress > stall_timeout_s:
            raise TransientIngestError(
                f"{topic}: no progress from the broker for {stall_timeout_s:g}s (broker down,"
                " restarted or the topic deleted?). Slices landed so far are committed and the"
                " next run continues after them; no hour file was written by this run."
            )


def _check_not_reset(topic: str, partition: int, st: _Partition, high_watermark: int) -> None:
    if high_watermark < st.start:
        raise IngestError(
            f"{topic}[{partition}]: the broker's log ends at offset {high_watermark} but the lake"
            f" already holds offsets up to {st.start - 1}: the topic was emptied or recreated"
            " (broker restart with in-memory storage?). Refusing to ingest; the lake is unchanged."
        )


def _verified(topic: str, partition: int, st: _Partition, chunk: RecordChunk) -> RecordChunk | None:
    expected = st.verify
    assert expected is not None
    if chunk.offset != expected.offset:
        if chunk.offset < expected.offset:  # the fetcher never returns offsets below its seek
            raise IngestError(f"{topic}[{partition}]: got offset {chunk.offset} before the seek")
        # The fingerprinted record is gone (compaction or retention); nothing to compare.
        st.verify = None
        return chunk.since(st.start)
    seen = Fingerprint.of(*chunk.record(0))
    if seen != expected:
        raise IngestError(
            f"{topic}[{partition}]: the record at offset {expected.offset} differs from the one the"
            " lake ingested: the topic was recreated and refilled. Refusing to mix two topic"
            " generations; the lake is unchanged."
        )
    st.verify = None
    return chunk.since(expected.offset + 1)


def _flush(partition: int, st: _Partition) -> FetchedSlice:
    assert st.last is not None
    table = pa.Table.from_batches(st.chunks, schema=RECORDS_SCHEMA)
    out = FetchedSlice(partition, st.start, st.next_offset, table, st.last)
    st.chunks, st.buffered, st.start = [], 0, st.next_offset
    return out
