"""Closed windows produced to a Kafka topic, each exactly once, even across a kill -9.

The output topic is its own record of what was published. Rows are produced in one total order,
(window start, key columns), each to the partition the Kafka default partitioner gives its key
(murmur2 of the key field), by an idempotent producer (no duplicates or reordering from its own
retries). So each output partition holds a prefix of that order restricted to its keys, and the
last record of each partition says where its prefix ends: on start (and after any produce
error) the publisher reads that one record back per partition (header `aggregator.order`), and
then sends only rows after it. Between restarts it keeps the positions in memory. Hours after
the positions that are no longer provisional (sealed between two rounds, or while the tail was
stopped) are published from their sealed windows files, which hold the same numbers. A window is
published once closed (end + allowed_lateness <= the topic's watermark); a record later than
`allowed_lateness` can still change the sealed hour's window, as in kafka-aggregator, but is not
published again.

When the source topic is Avro (`value_format: avro`) the values are Avro in the Confluent wire
format, with a record schema derived from the windows table's columns, registered once under
`<output topic>-value`; otherwise JSON. Keys and the `aggregator.order` header are the same.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.compute as pc
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.partitioner.default import murmur2

from aggregator_assets.config.models import TopicConfig, WindowSpec
from aggregator_assets.ingest.registry_client import SchemaRegistryClient
from aggregator_assets.lake import Lake
from aggregator_assets.live.windows import CLOSED_COLUMN
from aggregator_assets.windows.columns import key_columns, window_bounds
from aggregator_assets.windows.hourly import windows_file

ORDER_HEADER = "aggregator.order"
HOUR = timedelta(hours=1)
Order = tuple  # (window start in µs, (null?, value) per key column)


def partition_for(key: bytes, partitions: int) -> int:
    """The Java client's default partitioner, so consumers of the key see the same split."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def sealed_windows_reader(lake: Lake, topic: TopicConfig) -> Callable[[datetime], pa.Table | None]:
    """Reads the sealed windows file of an hour of the published size, or None."""
    window = published_window(topic)

    def read(hour: datetime) -> pa.Table | None:
        path = windows_file(topic, window, hour)
        return lake.read_table(path) if lake.exists(path) else None

    return read


def published_window(topic: TopicConfig) -> WindowSpec:
    """The topic's window size that `publish_windows` names (the config checks there is one)."""
    assert topic.publish_windows is not None
    return next(w for w in topic.windows if w.seconds == topic.publish_windows.seconds)


def order_of(start_us: int, keys: list) -> Order:
    return (start_us, tuple((v is None, "" if v is None else v) for v in keys))


def _hour_of(start_us: int) -> datetime:
    return datetime.fromtimestamp(start_us // 3_600_000_000 * 3600, timezone.utc)


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _avro_type(name: str, kind: pa.DataType) -> object:
    if pa.types.is_null(kind):
        return "null"
    if pa.types.is_timestamp(kind):
        return ["null", {"type": "long", "logicalType": "timestamp-micros"}]
    if pa.types.is_floating(kind):
        return ["null", "double"]
    if pa.types.is_integer(kind):
        return ["null", "long"]
    if pa.types.is_boolean(kind):
        return ["null", "boolean"]
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return ["null", "string"]
    raise TypeError(f"publish_windows: column {name!r} of type {kind} has no Avro type")


def windows_avro_schema(target: str, columns: pa.Schema) -> dict:
    """The record schema of published windows: one nullable field per windows column."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", target)
    return {
        "type": "record",
        "name": name if not name[:1].isdigit() else f"_{name}",
        "namespace": "aggregator_assets.windows",
        "fields": [
            {"name": f.name, "type": _avro_type(f.name, f.type), "default": None} for f in columns
        ],
    }


def _avro_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # as in the JSON values
    return value


@dataclass
class Publisher:
    """Publishes one source topic's closed windows; `positions` is None until read back."""

    topic: TopicConfig
    positions: dict[int, Order | None] | None = None
    partitions: int = 0
    sent: int = field(default=0)
    registry: SchemaRegistryClient | None = None
    _encoders: dict = field(default_factory=dict, init=False, repr=False)

    @property
    def avro(self) -> bool:
        return self.topic.value_format == "avro"

    def _encoder(self, columns: pa.Schema):
        """The wire encoder of these columns, registered once per schema (first use)."""
        from aggregator_assets.ingest.encode_avro import WireEncoder

        schema = windows_avro_schema(self.target, columns)
        cache_key = json.dumps(schema, sort_keys=True)
        if cache_key not in self._encoders:
            if self.registry is None:
                raise ValueError(
                    f"{self.topic.name} is Avro: publishing its windows needs the schema_registry"
                )
            self._encoders[cache_key] = WireEncoder(f"{self.target}-value", schema, self.registry)
        return self._encoders[cache_key]

    @property
    def target(self) -> str:
        assert self.topic.publish_windows is not None
        return self.topic.publish_windows.topic

    def read_back(self, consumer: KafkaConsumer, timeout_s: float = 10.0) -> None:
        """The order of the last record of every output partition (None: empty partition)."""
        ids = consumer.partitions_for_topic(self.target)
        if not ids:
            raise LookupError(f"output topic {self.target!r} does not exist: create it first")
        tps = [TopicPartition(self.target, p) for p in sorted(ids)]
        consumer.unsubscribe()
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        ends: dict[int, int] = {}
        deadline = time.monotonic() + timeout_s
        while len(ends) < len(tps):  # the high watermark of a real fetch response
            if time.monotonic() > deadline:
                raise TimeoutError(f"no fetch response from every partition of {self.target}")
            consumer.poll(timeout_ms=200, max_records=1)
            for tp in tps:
                if (hw := consumer.highwater(tp)) is not None:
                    ends[tp.partition] = hw
        positions: dict[int, Order | None] = {p: None for p in ends}
        wanted = {p: hw - 1 for p, hw in ends.items() if hw > 0}
        for tp in tps:
            if tp.partition in wanted:
                consumer.seek(tp, wanted[tp.partition])
            else:
                consumer.pause(tp)
        while wanted:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read back the last records of {self.target}")
            for tp, records in consumer.poll(timeout_ms=200).items():
                for record in records:
                    if record.offset == wanted.get(tp.partition):
                        headers = dict(record.headers or [])
                        start, keys = json.loads(headers[ORDER_HEADER])
                        positions[tp.partition] = order_of(start, keys)
                        del wanted[tp.partition]
                        consumer.pause(tp)
        consumer.unsubscribe()
        self.positions, self.partitions = positions, len(tps)

    def _sealed_since_positions(
        self, windows: pa.Table | None, sealed_hour: Callable[[datetime], pa.Table | None]
    ) -> list[pa.Table]:
        """Sealed windows of the hours from the earliest position to now that are not open.

        A publisher that never published anything starts from the provisional windows."""
        assert self.positions is not None
        known = [o[0] for o in self.positions.values() if o is not None]
        if not known:
            return []
        open_hours = set()
        if windows is not None and windows.num_rows:
            start, _ = window_bounds(windows, self.topic.naming)
            open_hours = {_hour_of(us) for us in pc.cast(start, pa.int64()).to_pylist()}
        hour, now = _hour_of(min(known)), datetime.now(timezone.utc)
        found = []
        while hour <= now:
            if hour not in open_hours and (table := sealed_hour(hour)) is not None:
                found.append(table.append_column(CLOSED_COLUMN, pa.array([True] * table.num_rows)))
            hour += HOUR
        return found

    def publish(
        self,
        producer: KafkaProducer,
        open_consumer: Callable[[], AbstractContextManager[KafkaConsumer]],
        windows: pa.Table | None,
        sealed_hour: Callable[[datetime], pa.Table | None] | None = None,
    ) -> int:
        """Send every closed window after each partition's position; returns how many.

        `windows` are the provisional windows (None: unchanged and empty). `open_consumer`
        (e.g. `KafkaResource.consumer`) gives a plain consumer for the read-back: the landing's
        consumer is columnar and returns no record objects. `sealed_hour` reads an hour's sealed
        windows file (or None): hours after the positions that are no longer provisional (sealed
        between two rounds, or while the tail was stopped) are published from it."""
        if self.positions is None:
            with open_consumer() as consumer:
                self.read_back(consumer)
        assert self.positions is not None
        tables = [windows] if windows is not None else []
        if sealed_hour is not None:
            tables += self._sealed_since_positions(windows, sealed_hour)
        if not tables:
            return 0
        windows = pa.concat_tables(tables, promote_options="permissive")
        closed = windows.filter(pc.fill_null(windows[CLOSED_COLUMN], False))
        if closed.num_rows == 0:
            return 0
        start, _ = window_bounds(closed, self.topic.naming)
        starts = pc.cast(start, pa.int64()).to_pylist()
        keys = key_columns(self.topic)
        closed = closed.drop_columns([CLOSED_COLUMN])
        encoder = self._encoder(closed.schema) if self.avro else None
        rows = closed.to_pylist()
        ordered = sorted(
            (order_of(s, [r[k] for k in keys]), r) for s, r in zip(starts, rows, strict=True)
        )
        positions = dict(self.positions)
        sent = 0
        try:
            for order, row in ordered:
                value = row[self.topic.key_field]
                key = b"" if value is None else str(value).encode()
                partition = partition_for(key, self.partitions)
                last = positions.get(partition)
                if last is not None and order <= last:
                    continue
                if encoder is not None:
                    body = encoder.encode({k: _avro_value(v) for k, v in row.items()})
                else:
                    body = json.dumps({k: _json_value(v) for k, v in row.items()}).encode()
                # Nulls travel as null: decode them back to (True, "") through order_of.
                header = json.dumps([order[0], [None if n else v for n, v in order[1]]]).encode()
                producer.send(
                    self.target,
                    key=key,
                    value=body,
                    partition=partition,
                    headers=[(ORDER_HEADER, header)],
                )
                positions[partition] = order
                sent += 1
            producer.flush()
        except Exception:
            self.positions = None  # what reached the topic is unknown: read it back next time
            raise
        self.positions = positions
        self.sent += sent
        return sent
