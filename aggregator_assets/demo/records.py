"""Demo records for one topic, as Kafka would store them: key, value bytes and timestamp.

A `TopicStream` walks event time forward in slices, asks the topic's simulated source for its
readings, writes them as JSON (or Avro, see `avro.py`) under the config's field names, spoils a
share of them in the ways real producers do (`MALFORMED_KINDS`), delays a share past the topic's
allowed lateness, and hands records back in arrival order, so each partition's timestamps rise
like real traffic.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple

import numpy as np

from aggregator_assets.config.models import TopicConfig
from aggregator_assets.demo.avro import AvroEncoder
from aggregator_assets.demo.sources import Batch, make_source

SLICE_S = 60.0
VALID, LATE = "valid", "late"
MALFORMED_KINDS = (
    "invalid_json",  # a truncated payload
    "not_utf8",  # a Latin-1 string inside otherwise valid JSON
    "missing_field",  # a required field left out
    "wrong_type",  # a numeric field sent as text
    "out_of_range",  # a value outside the field's min/max, or an event time far in the future
    "empty",  # a zero-length value
)
# How an overall rate splits between the demo topics (others weigh 1/3 each).
RATE_SHARES = {"iot-events": 0.3, "observatory.telemetry": 0.5, "vehicle-can": 0.2}


class DemoRecord(NamedTuple):
    key: bytes
    value: bytes
    timestamp_ms: int
    kind: str  # VALID, LATE or one of MALFORMED_KINDS


def topic_rates(topics: list[TopicConfig], rate: float) -> dict[str, float]:
    """Split an overall rate (events per second of event time) between topics."""
    weights = {t.name: RATE_SHARES.get(t.name, 1 / 3) for t in topics}
    total = sum(weights.values())
    return {name: rate * w / total for name, w in weights.items()}


def _iso_ms(event_ms: np.ndarray) -> list[str]:
    text = np.datetime_as_string(event_ms.astype("datetime64[ms]"), unit="ms")
    return [f"{s}Z" for s in text.tolist()]


class TopicStream:
    """Records of one topic over event time, slice by slice, in arrival-time order.

    `end` (epoch s), when known, keeps late records from arriving after it, so a backdated
    load holds no timestamps in the future; a live stream passes None.
    """

    def __init__(
        self,
        topic: TopicConfig,
        start: float,
        rate: float,
        *,
        malformed: float = 0.0,
        late: float = 0.0,
        seed: int = 0,
        end: float | None = None,
        avro: AvroEncoder | None = None,
    ):
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if not 0 <= malformed + late <= 1 or malformed < 0 or late < 0:
            raise ValueError("malformed and late are shares between 0 and 1 that add up to <= 1")
        self.topic, self.avro = topic, avro
        self.rng = np.random.default_rng([seed, zlib.crc32(topic.name.encode())])
        self.source = make_source(topic, self.rng, rate, start)
        self.malformed, self.late, self.end = malformed, late, end
        self.lateness_s = topic.lateness.total_seconds()
        self.time_field, self.time_format = topic.event_time.field, topic.event_time.format
        self.required = [n for n, f in topic.fields.items() if f.required]
        self.numeric = [n for n, f in topic.fields.items() if f.type in ("float", "int")]
        self.ranged = [n for n, f in topic.fields.items() if f.min is not None or f.max is not None]
        self.position = start
        self.pending: list[DemoRecord] = []

    def advance(self, until: float) -> list[DemoRecord]:
        """Generate event time up to `until` and return every record that arrived before it."""
        if until <= self.position:
            return []
        batch = self.source(self.position, until)
        self.position = until
        self.pending += self._encode(batch)
        self.pending.sort(key=lambda r: r.timestamp_ms)
        cut_ms = math.floor(until * 1000)
        split = next((i for i, r in enumerate(self.pending) if r.timestamp_ms >= cut_ms), None)
        if split is None:
            ready, self.pending = self.pending, []
        else:
            ready, self.pending = self.pending[:split], self.pending[split:]
        return ready

    def drain(self) -> list[DemoRecord]:
        """The records still in flight at the end of the span (arriving just after it)."""
        ready, self.pending = self.pending, []
        return ready

    def _encode(self, batch: Batch) -> list[DemoRecord]:
        n = len(batch.times)
        if not n:
            return []
        event_ms = np.floor(batch.times * 1000).astype(np.int64)
        arrival_ms = event_ms + np.ceil(batch.delays * 1000).astype(np.int64)
        draw = self.rng.random(n)
        spoil = draw < self.malformed
        late = (draw >= self.malformed) & (draw < self.malformed + self.late)
        if late.any():
            late_ms = event_ms + (self.lateness_s * self.rng.uniform(1.5, 4.0, n) * 1000).astype(
                np.int64
            )
            if self.end is not None:
                late &= late_ms <= self.end * 1000
            arrival_ms = np.where(late, late_ms, arrival_ms)
        kinds = self.rng.integers(0, len(MALFORMED_KINDS), n)
        if self.time_format == "iso8601":
            times = _iso_ms(event_ms)
        elif self.time_format == "epoch_ms":
            times = event_ms.tolist()
        else:
            times = (event_ms / 1000).tolist()
        key_field, time_field = self.topic.key_field, self.time_field
        records = []
        for i, (key, fields) in enumerate(zip(batch.keys, batch.fields, strict=True)):
            value = {key_field: key, time_field: times[i], **fields}
            if spoil[i]:
                kind = MALFORMED_KINDS[kinds[i]]
                payload = self._spoil(kind, value, int(arrival_ms[i]))
            else:
                kind = LATE if late[i] else VALID
                payload = (
                    self.avro.encode(value)
                    if self.avro
                    else json.dumps(value, separators=(",", ":")).encode()
                )
            records.append(DemoRecord(key.encode(), payload, int(arrival_ms[i]), kind))
        return records

    def _spoil(self, kind: str, value: dict, arrival_ms: int) -> bytes:
        rng = self.rng
        if kind == "empty":
            return b""
        if kind == "missing_field":
            value.pop(self.required[rng.integers(len(self.required))], None)
        elif kind == "wrong_type":
            present = [n for n in self.numeric if n in value]
            value[present[rng.integers(len(present))]] = ("ERR", "n/a", "--")[rng.integers(3)]
        elif kind == "out_of_range":
            present = [n for n in self.ranged if n in value]
            if present:
                name = present[rng.integers(len(present))]
                value[name] = self._outside(name)
            else:
                future_ms = arrival_ms + self.topic.future_skew.total_seconds() * 1000
                future_ms = int(future_ms + rng.uniform(1, 48) * 3600_000)
                value[self.time_field] = self._format_time(future_ms)
        text = json.dumps(value, separators=(",", ":")).encode()
        if self.avro:
            return self.avro.spoil(kind, value, text, rng)
        if kind == "invalid_json":
            return text[: int(len(text) * rng.uniform(0.3, 0.9))]
        if kind == "not_utf8":
            at = text.find(b':"')
            return text[: at + 2] + b"caf\xe9-" + text[at + 2 :] if at >= 0 else b"\xff" + text
        return text

    def _outside(self, name: str) -> float | int:
        spec = self.topic.fields[name]
        above = spec.max is not None and (spec.min is None or self.rng.random() < 0.5)
        bound = spec.max if above else spec.min
        step = max(1.0, abs(bound)) * self.rng.uniform(0.5, 2.0)
        out = bound + step if above else bound - step
        if spec.type == "int":
            return math.ceil(out) if above else math.floor(out)
        return round(out, 2)

    def _format_time(self, ms: int) -> str | int | float:
        if self.time_format == "iso8601":
            return _iso_ms(np.array([ms]))[0]
        return ms if self.time_format == "epoch_ms" else ms / 1000


def generate_records(
    topic: TopicConfig,
    start: datetime,
    end: datetime,
    *,
    rate: float,
    malformed: float = 0.0,
    late: float = 0.0,
    seed: int = 0,
    avro: AvroEncoder | None = None,
) -> Iterator[DemoRecord]:
    """Every record one topic receives for event times in [start, end), without Kafka.

    `rate` is this topic's events per second of event time. The same arguments always give
    the same records; `produce_demo` sends exactly these.
    """
    t0, t1 = start.timestamp(), end.timestamp()
    stream = TopicStream(
        topic, t0, rate, malformed=malformed, late=late, seed=seed, end=t1, avro=avro
    )
    edge = t0
    while edge < t1:
        edge = min(edge + SLICE_S, t1)
        yield from stream.advance(edge)
    yield from stream.drain()
