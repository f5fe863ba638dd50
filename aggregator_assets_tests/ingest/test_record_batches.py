"""The columnar record-batch decoder against kafka-python's own per-record decoder.

Batches are built with kafka-python's batch builder (the producer's code), so both decoders read
the same bytes; the broker tests then compare what a columnar and a plain consumer poll.
"""

from __future__ import annotations

import struct

import pytest
from crc32c import crc32c
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import CorruptRecordError
from kafka.protocol.consumer import IsolationLevel
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from kafka.record.legacy_records import LegacyRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords

from aggregator_assets.ingest.columnar_fetch import _ColumnarPartitionRecords, columnar
from aggregator_assets.ingest.record_batches import UnsupportedBatch, decode_batches
from aggregator_assets_tests.ingest.helpers import new_topic

NONE, GZIP = 0, 1
_ATTRIBUTES_AT = 21


def build(records: list[tuple], base_offset: int = 0, codec: int = NONE) -> bytes:
    """One v2 batch of (timestamp ms, key, value, headers), as a producer sends it."""
    builder = DefaultRecordBatchBuilder(2, codec, False, -1, -1, -1, batch_size=1 << 30)
    for delta, (timestamp, key, value, headers) in enumerate(records):
        builder.append(delta, timestamp, key, value, headers)
    batch = bytearray(builder.build())
    struct.pack_into(">q", batch, 0, base_offset)
    return bytes(batch)


def with_attributes(batch: bytes, flags: int) -> bytes:
    """The batch with extra attribute bits set and its CRC recomputed (as a broker would)."""
    out = bytearray(batch)
    (attributes,) = struct.unpack_from(">h", out, _ATTRIBUTES_AT)
    struct.pack_into(">h", out, _ATTRIBUTES_AT, attributes | flags)
    struct.pack_into(">I", out, 17, crc32c(bytes(out[_ATTRIBUTES_AT:])))
    return bytes(out)


def reference(buffer: bytes) -> list[tuple]:
    """kafka-python's reading of every record: (offset, timestamp, key, value)."""
    out, pos = [], 0
    while pos < len(buffer):
        (length,) = struct.unpack_from(">i", buffer, pos + 8)
        batch = DefaultRecordBatch(buffer[pos : pos + 12 + length])
        if not batch.is_control_batch:
            out += [(r.offset, r.timestamp, r.key, r.value) for r in batch]
        pos += 12 + length
    return out


def columns(buffer: bytes) -> list[tuple]:
    d = decode_batches(buffer)
    return list(
        zip(
            d.offsets.tolist(),
            d.timestamps_ms.tolist(),
            d.keys.to_pylist(),
            d.values.to_pylist(),
            strict=True,
        )
    )


large = st.integers(16_400, 17_000).map(lambda n: bytes(range(256)) * (n // 256))  # 3-byte len
blobs = st.one_of(st.none(), st.binary(max_size=300), large)
record = st.tuples(
    st.integers(1_600_000_000_000, 1_800_000_000_000),  # out of order: negative deltas too
    blobs,
    blobs,
    st.lists(
        st.tuples(st.text(max_size=5), st.one_of(st.none(), st.binary(max_size=20))), max_size=2
    ),
).filter(lambda r: r[1] is not None or r[2] is not None)


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(st.lists(record, min_size=1, max_size=40), min_size=1, max_size=4),
    codec=st.sampled_from([NONE, GZIP]),
)
def test_equals_kafka_python_on_any_records(batches, codec):
    buffer, offset = b"", 5
    for records in batches:
        buffer += build(records, offset, codec)
        offset += len(records) + 3  # gaps, as compaction leaves
    decoded = decode_batches(buffer)
    assert columns(buffer) == reference(buffer)
    assert decoded.next_offset == offset - 3
    assert decoded.bytes_read == len(buffer)


def test_log_append_time_uses_the_batch_max_timestamp():
    batch = with_attributes(build([(1000, b"k", b"a", []), (3000, b"k", b"b", [])]), 0x08)
    assert decode_batches(batch).timestamps_ms.tolist() == [3000, 3000]


def test_control_batches_are_skipped_but_move_the_next_offset():
    data = build([(1, b"k", b"data", [])], base_offset=0)
    marker = with_attributes(
        build([(2, b"\x00\x00\x00\x00", b"\x00\x00", [])], base_offset=1), 0x20
    )
    decoded = decode_batches(data + marker)
    assert decoded.offsets.tolist() == [0]
    assert decoded.next_offset == 2


def test_a_truncated_last_batch_is_left_for_the_next_fetch():
    first, second = build([(1, b"k", b"one", [])]), build([(2, b"k", b"two", [])], base_offset=1)
    decoded = decode_batches(first + second[:-7])
    assert decoded.values.to_pylist() == [b"one"]
    assert decoded.next_offset == 1
    assert decoded.bytes_read == len(first)


def test_a_corrupt_batch_fails_its_crc_with_the_offset():
    batch = bytearray(build([(1, b"k", b"payload", [])], base_offset=42))
    batch[-3] ^= 0xFF
    with pytest.raises(CorruptRecordError, match="offset 42 failed its CRC"):
        decode_batches(bytes(batch))


def test_a_corrupt_record_with_a_valid_crc_is_an_error_not_garbage():
    batch = bytearray(build([(1, b"k", b"payload", []), (2, b"k", b"more", [])]))
    value_length_at = 61 + 6  # after the header: length, attributes, ts, offset, klen, key
    batch[value_length_at] = 0x7E  # 63 bytes: past the end of the record
    fixed = bytes(batch[:17]) + struct.pack(">I", crc32c(bytes(batch[21:]))) + bytes(batch[21:])
    with pytest.raises(CorruptRecordError):
        decode_batches(fixed)


def test_old_message_formats_are_refused_for_the_fallback():
    builder = LegacyRecordBatchBuilder(1, 0, batch_size=1 << 20)
    builder.append(0, 1000, b"k", b"v")
    with pytest.raises(UnsupportedBatch, match="magic 1"):
        decode_batches(bytes(builder.build()))


def _poll_all(bootstrap: str, topic: str, start: int, as_columns: bool) -> list[tuple]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    if as_columns:
        columnar(consumer)
    tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, start)
    out, idle = [], 0
    while idle < 3:
        polled = consumer.poll(timeout_ms=300)
        idle = 0 if polled else idle + 1
        for tp, items in polled.items():
            for item in items:
                if as_columns:
                    b = item.batch
                    out += zip(
                        [tp.partition] * b.num_rows,
                        b.column("kafka_offset").to_pylist(),
                        [t.timestamp() * 1000 for t in b.column("kafka_timestamp").to_pylist()],
                        b.column("key").to_pylist(),
                        b.column("value").to_pylist(),
                        strict=True,
                    )
                else:
                    out.append((tp.partition, item.offset, item.timestamp, item.key, item.value))
    consumer.close()
    return sorted(out)


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_a_columnar_consumer_polls_what_a_plain_one_does(kafka, compression):
    topic = new_topic(kafka, partitions=2)
    producer = KafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        compression_type=compression,
        linger_ms=20,
        batch_size=1 << 14,
    )
    for i in range(6000):
        producer.send(
            topic,
            key=None if i % 3 == 1 else b"k%d" % i,
            value=None if i % 99 == 0 else b"v%d" % i * (i % 7 + 1),
            headers=[("h", b"x")] if i % 11 == 0 else None,
            timestamp_ms=1_700_000_000_000 + (i * 7919) % 5000,
        )
    producer.flush()
    producer.close()
    for start in (0, 1234):  # 1234 lies inside a batch: earlier records must not come back
        plain = _poll_all(kafka.bootstrap_servers, topic, start, as_columns=False)
        assert min(offset for _, offset, *_ in plain) == start
        assert start or len(plain) == 6000
        assert _poll_all(kafka.bootstrap_servers, topic, start, as_columns=True) == plain


def test_consumers_with_deserializers_are_refused(kafka):
    consumer = KafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers, value_deserializer=bytes.decode
    )
    with pytest.raises(ValueError, match="without deserializers"):
        columnar(consumer)
    consumer.close()


@pytest.mark.parametrize("length", [-12, 0, 40])
def test_an_impossible_batch_length_is_an_error_not_a_hang(length):
    header = struct.pack(">qi", 7, length) + bytes(4) + b"\x02" + bytes(48)
    with pytest.raises(CorruptRecordError, match="offset 7 has length"):
        decode_batches(header)


def test_a_cut_off_record_length_varint_is_an_error():
    batch = bytearray(build([(1, b"k", b"x" * 100, [])]))
    del batch[62:]  # keep only the first byte (continuation bit set) of the record's length
    struct.pack_into(">i", batch, 8, len(batch) - 12)
    struct.pack_into(">I", batch, 17, crc32c(bytes(batch[21:])))
    with pytest.raises(CorruptRecordError, match="cut off"):
        decode_batches(bytes(batch))


def _partition_records(buffer: bytes, fetch_offset: int, committed: bool = False):
    level = IsolationLevel.READ_COMMITTED if committed else IsolationLevel.READ_UNCOMMITTED
    return _ColumnarPartitionRecords(
        fetch_offset, TopicPartition("t", 0), MemoryRecords(buffer), isolation_level=level
    )


@pytest.mark.parametrize("committed", [False, True])
def test_the_fetch_position_matches_kafka_python(committed):
    """Start inside a batch, end on a control batch: rows from the fetch offset, position after
    the control batch (as kafka-python's own PartitionRecords does), for both decode paths."""
    data = build([(i, b"k", b"v%d" % i, []) for i in range(5)])
    marker = with_attributes(build([(9, b"\0\0\0\0", b"\0\0", [])], base_offset=5), 0x20)
    records = _partition_records(data + marker, fetch_offset=2, committed=committed)
    chunks = records.take()
    assert [o for c in chunks for o in c.batch.column("kafka_offset").to_pylist()] == [2, 3, 4]
    assert chunks[0].offset == 2
    assert records.next_fetch_offset == 6


def test_rows_read_before_a_corrupt_batch_are_returned_first():
    """The fallback path must not move the position past rows it did not return."""
    good = build([(i, b"k", b"v", []) for i in range(3)])
    bad = bytearray(build([(9, b"k", b"v", [])], base_offset=3))
    bad[-1] ^= 0xFF
    records = _partition_records(good + bytes(bad), fetch_offset=0, committed=True)
    chunks = records.take()
    assert chunks[0].batch.column("kafka_offset").to_pylist() == [0, 1, 2]
    assert records.next_fetch_offset == 3
    with pytest.raises(CorruptRecordError):
        records.take()
