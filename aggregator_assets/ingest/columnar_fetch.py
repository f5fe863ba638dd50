"""A kafka-python consumer whose poll() returns Arrow record chunks, not an object per record.

kafka-python keeps everything a consumer needs (connections, SASL/SSL, metadata, leader changes,
fetch sessions, positions, high watermarks); only the last step, turning a fetch response into
records, is swapped for `record_batches.decode_batches`. That step is its documented extension
point in spirit but a private one in code (`Fetcher.PartitionRecords`), so `columnar()` checks
the pieces it relies on and refuses clearly if a kafka-python upgrade moved them.

poll() then maps each TopicPartition to a list of `RecordChunk`s, one per fetch response. Chunks
never hold records before the fetch position. Read-committed consumers and old message formats
(v0/v1) go through kafka-python's own per-record path and are converted, so they still work.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
from kafka import KafkaConsumer
from kafka.consumer.fetcher import Fetcher
from kafka.protocol.consumer import IsolationLevel

from aggregator_assets.ingest.record_batches import UnsupportedBatch, decode_batches
from aggregator_assets.ingest.schema import RECORDS_SCHEMA

_FALLBACK_CHUNK = 10_000


@dataclass(frozen=True)
class RecordChunk:
    """Consecutive records of one partition as a `RECORDS_SCHEMA` batch; `offset` is the first."""

    offset: int
    batch: pa.RecordBatch

    def __len__(self) -> int:
        return self.batch.num_rows

    def record(self, row: int) -> tuple[int, int, bytes | None]:
        """(offset, timestamp ms, value) of one row, e.g. to fingerprint it."""
        offset = self.batch.column(1)[row].as_py()
        timestamp = self.batch.column(2)[row].value  # epoch ms (RECORDS_SCHEMA)
        return offset, timestamp, self.batch.column(4)[row].as_py()

    def since(self, offset: int) -> RecordChunk | None:
        """The rows at `offset` and after, or None if there are none."""
        first = int(pa.compute.sum(pa.compute.less(self.batch.column(1), offset)).as_py() or 0)
        if first >= len(self):
            return None
        if first == 0:
            return self
        rest = self.batch.slice(first)
        return RecordChunk(rest.column(1)[0].as_py(), rest)


def _chunk(partition: int, offsets, timestamps, keys, values) -> RecordChunk:
    batch = pa.RecordBatch.from_arrays(
        [
            pa.nulls(len(offsets), pa.int32()).fill_null(partition),
            pa.array(offsets, pa.int64()),
            pa.array(timestamps, pa.int64()).cast(RECORDS_SCHEMA[2].type),
            pa.array(keys, pa.binary()),
            pa.array(values, pa.binary()),
        ],
        schema=RECORDS_SCHEMA,
    )
    return RecordChunk(int(batch.column(1)[0].as_py()), batch)


class _ColumnarPartitionRecords(Fetcher.PartitionRecords):
    """Yields one `RecordChunk` per fetch response instead of one ConsumerRecord per record."""

    def _unpack_records(self, tp, records, key_deserializer, value_deserializer) -> Iterator:
        buffer = getattr(records, "_buffer", None)
        if self.isolation_level == IsolationLevel.READ_COMMITTED or buffer is None:
            yield from self._per_record(tp, records, key_deserializer, value_deserializer)
            return
        try:
            decoded = decode_batches(buffer, check_crcs=self.check_crcs)
        except UnsupportedBatch:
            yield from self._per_record(tp, records, key_deserializer, value_deserializer)
            return
        self.leader_epoch = decoded.leader_epoch
        self.records_read += len(decoded)
        self.bytes_read += decoded.bytes_read
        keep = decoded.offsets >= self.fetch_offset
        if keep.any():
            first = int(keep.argmax())
            chunk = _chunk(
                tp.partition,
                decoded.offsets[first:],
                decoded.timestamps_ms[first:],
                decoded.keys[first:],
                decoded.values[first:],
            )
            self.next_fetch_offset = int(decoded.offsets[-1]) + 1
            yield chunk
        if decoded.next_offset is not None:
            # Like kafka-python: skip past control batches and records removed by compaction.
            self.next_fetch_offset = max(self.next_fetch_offset, decoded.next_offset)
        self.drain()

    def _per_record(self, tp, records, key_deserializer, value_deserializer) -> Iterator:
        rows: list = []
        try:
            for record in super()._unpack_records(
                tp, records, key_deserializer, value_deserializer
            ):
                if record.offset < self.fetch_offset:
                    continue
                rows.append(record)
                if len(rows) == _FALLBACK_CHUNK:
                    yield _chunk(tp.partition, *_columns(rows))
                    rows = []
        except Exception:
            # The position already counts the rows read before a failing record: return them
            # first (kafka-python's take() keeps the error for the next call).
            if rows:
                yield _chunk(tp.partition, *_columns(rows))
            raise
        if rows:
            yield _chunk(tp.partition, *_columns(rows))


def _columns(rows: list) -> tuple:
    return (
        [r.offset for r in rows],
        [r.timestamp for r in rows],
        [r.key for r in rows],
        [r.value for r in rows],
    )


def columnar(consumer: KafkaConsumer) -> KafkaConsumer:
    """Make `consumer.poll()` return `RecordChunk`s; the consumer must not have deserializers."""
    fetcher = getattr(consumer, "_fetcher", None)
    if not isinstance(fetcher, Fetcher) or not hasattr(Fetcher.PartitionRecords, "_unpack_records"):
        raise RuntimeError(
            "this kafka-python version changed its fetcher internals; columnar fetching needs"
            " kafka-python 3.0.x (see pyproject.toml)"
        )
    if fetcher.config.get("key_deserializer") or fetcher.config.get("value_deserializer"):
        raise ValueError("columnar fetching yields raw bytes: make consumers without deserializers")
    fetcher.PartitionRecords = _ColumnarPartitionRecords
    return consumer
