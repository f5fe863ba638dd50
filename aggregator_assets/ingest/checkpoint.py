"""Checkpoints: the landing log's commit markers compacted into one small file.

`_landing/<topic>/checkpoints/<generation>.json` holds, per Kafka partition, the offset the
chain of committed slices reaches (`through`, with the fingerprint of the record before it and
the latest times landed), the slices of that chain whose pieces are still kept (with the offset
each is read from), and the hours whose older pieces retention removed (`retired`: after that,
the sealed hour file is the record of those offsets). Commit markers of slices ending at or below
`through` are redundant and are removed a generation later; markers of later slices stay loose
until the next compaction.

The file is small and its size is bounded by the retention (the slices of a few days), not by the
age of the topic, so reading it costs the same after a year as on the first day. The body is kept
compact (lists, not objects) because every sensor tick reads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from aggregator_assets.ingest.commits import (
    HOUR,
    CoveredSlice,
    LandedSlice,
    SliceId,
    hour_dir,
    hour_of_dir,
)
from aggregator_assets.ingest.fetch import Fingerprint

FORMAT = 1
KINDS = ("raw", "quarantine")


def checkpoint_name(generation: int) -> str:
    return f"{generation:012d}.json"


def generation_of(name: str) -> int | None:
    stem = name.rsplit("/", 1)[-1].removesuffix(".json")
    return int(stem) if stem.isdigit() else None


@dataclass(frozen=True)
class PartitionMark:
    """How far the compacted chain of one partition reaches."""

    through: int  # every offset below is in the chain
    last: Fingerprint  # the record at through - 1, which the fetcher verifies before continuing
    max_event_time: str | None
    max_kafka_timestamp: str | None


@dataclass(frozen=True)
class RetiredHours:
    """Hours (per kind) whose landed pieces retention removed, as sorted spans of hour folders.

    Retention goes from the oldest hour forward, so the spans stay few (one, plus a gap for each
    old hour that was never sealed) however long the topic runs.
    """

    spans: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def contains(self, kind: str, hour: str) -> bool:
        return any(first <= hour <= last for first, last in self.spans.get(kind, ()))

    def with_hours(self, kind: str, hours: set[str]) -> RetiredHours:
        """These hours added; overlapping and adjacent spans merged into one."""
        if not hours:
            return self
        spans = [(hour_of_dir(a), hour_of_dir(b)) for a, b in self.spans.get(kind, ())]
        spans += [(hour_of_dir(h), hour_of_dir(h)) for h in hours]
        merged: list[tuple[datetime, datetime]] = []
        for first, last in sorted(spans):
            if merged and first <= merged[-1][1] + HOUR:
                merged[-1] = (merged[-1][0], max(merged[-1][1], last))
            else:
                merged.append((first, last))
        return RetiredHours({**self.spans, kind: [(hour_dir(a), hour_dir(b)) for a, b in merged]})

    def to_json(self) -> dict:
        return {kind: [list(span) for span in spans] for kind, spans in self.spans.items()}

    @classmethod
    def from_json(cls, raw: dict) -> RetiredHours:
        return cls({kind: [tuple(span) for span in spans] for kind, spans in raw.items()})


@dataclass(frozen=True)
class Checkpoint:
    generation: int
    partitions: dict[int, PartitionMark]
    slices: list[CoveredSlice]  # kept slices of the chain, in (partition, offset) order
    retired: RetiredHours
    written_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    @property
    def through(self) -> dict[int, int]:
        return {p: mark.through for p, mark in self.partitions.items()}

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "format": FORMAT,
                "generation": self.generation,
                "written_at": self.written_at,
                "partitions": {
                    str(p): [
                        m.through,
                        [m.last.offset, m.last.timestamp_ms, m.last.crc],
                        m.max_event_time,
                        m.max_kafka_timestamp,
                    ]
                    for p, m in sorted(self.partitions.items())
                },
                "slices": [
                    [
                        c.slice.partition,
                        c.slice.start,
                        c.slice.end,
                        c.take_from,
                        c.commit.max_event_time,
                        c.commit.raw_hours,
                        _rows_by_hour(c.commit.quarantine_hours),
                    ]
                    for c in self.slices
                ],
                "retired": self.retired.to_json(),
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Checkpoint:
        raw = json.loads(data)
        if raw.get("format") != FORMAT:
            raise ValueError(f"unknown landing checkpoint format {raw.get('format')!r}")
        return cls(
            generation=raw["generation"],
            written_at=raw["written_at"],
            partitions={
                int(p): PartitionMark(through, Fingerprint(*last), event, stamp)
                for p, (through, last, event, stamp) in raw["partitions"].items()
            },
            slices=[
                CoveredSlice(LandedSlice(SliceId(p, start, end), raw_h, quarantine_h, event), take)
                for p, start, end, take, event, raw_h, quarantine_h in raw["slices"]
            ],
            retired=RetiredHours.from_json(raw["retired"]),
        )


def _rows_by_hour(hours: dict) -> dict[str, int]:
    """Quarantine hours of a commit map to rows by reason; a checkpoint keeps the total."""
    return {h: sum(v.values()) if isinstance(v, dict) else v for h, v in hours.items()}
