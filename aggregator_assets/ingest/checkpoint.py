"""Checkpoints: the landing log's commit markers compacted into one small file.

`_landing/<topic>/checkpoints/<generation>.json` holds, per Kafka partition, the offset the
chain of committed slices reaches (`through`, with the fingerprint of the record before it and
the latest times landed), the slices of that chain whose pieces are still kept (with the offset
each is read from), and the hours whose older pieces retention removed (`retired`: after that,
the sealed hour file is the record of those offsets). Commit markers of slices ending at or below
`through` are redundant and are removed a generation later; markers of later slices stay loose
until the next compaction.

Nothing in the part every reader parses grows with the age of the topic or with the retention
period (see `Checkpoint`), so a sensor tick or a run's planning costs the same after a year as
on the first day. Slices are written as lists, not objects, to keep parsing cheap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property

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
    """One generation of the compacted landing index.

    Its slices are split in two. `active`: slices with a piece in an hour not yet sealed
    through them (the hours the next runs build, landed since about the previous pass); few,
    in the first line of the file. `settled`: slices every piece of which is in a sealed hour
    file, kept until retention so that those hours can still be rebuilt from their pieces; they
    grow with the retention period, sit on the second line, and are parsed only by a reader that
    needs them (a rebuild of a sealed hour in `settled_span`, a sensor whose cursor is behind
    `settled_through`, maintenance). So a tick or the planning of a run for a new hour costs the
    same whatever the retention and however old the topic.
    """

    generation: int
    partitions: dict[int, PartitionMark]
    active: list[CoveredSlice]
    retired: RetiredHours
    settled_span: dict[str, tuple[str, str]]  # kind -> first and last hour with settled pieces
    settled_through: dict[int, int]  # partition -> the largest end among settled slices
    settled_body: list[CoveredSlice] | bytes = b""  # the second line, parsed when first read
    written_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    @classmethod
    def build(
        cls,
        generation: int,
        partitions: dict[int, PartitionMark],
        active: list[CoveredSlice],
        settled: list[CoveredSlice],
        retired: RetiredHours,
    ) -> Checkpoint:
        span: dict[str, tuple[str, str]] = {}
        through: dict[int, int] = {}
        for covered in settled:
            p = covered.slice.partition
            through[p] = max(through.get(p, 0), covered.slice.end)
            for kind in KINDS:
                for hour in covered.commit.hours(kind):
                    first, last = span.get(kind, (hour, hour))
                    span[kind] = (min(first, hour), max(last, hour))
        return cls(generation, partitions, active, retired, span, through, settled)

    @property
    def through(self) -> dict[int, int]:
        return {p: mark.through for p, mark in self.partitions.items()}

    @cached_property
    def settled(self) -> list[CoveredSlice]:
        if isinstance(self.settled_body, list):
            return self.settled_body
        return [_slice(record) for record in json.loads(self.settled_body or b"[]")]

    @property
    def slices(self) -> list[CoveredSlice]:
        """Every slice the checkpoint keeps, in (partition, offset) order."""
        both = [*self.active, *self.settled]
        return sorted(both, key=lambda c: (c.slice.partition, c.take_from))

    def may_have_settled(self, kind: str, hour: str) -> bool:
        first, last = self.settled_span.get(kind, ("~", ""))
        return first <= hour <= last

    def to_json(self) -> bytes:
        header = {
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
            "retired": self.retired.to_json(),
            "active": [_record(c) for c in self.active],
            "settled_span": {kind: list(span) for kind, span in self.settled_span.items()},
            "settled_through": {str(p): end for p, end in self.settled_through.items()},
        }
        body = [_record(c) for c in self.settled]
        return b"\n".join(
            json.dumps(part, separators=(",", ":")).encode() for part in (header, body)
        )

    @classmethod
    def from_json(cls, data: bytes) -> Checkpoint:
        """Parse the first line; the settled slices only when first asked for."""
        head, _, body = data.partition(b"\n")
        raw = json.loads(head)
        if raw.get("format") != FORMAT:
            raise ValueError(f"unknown landing checkpoint format {raw.get('format')!r}")
        return cls(
            generation=raw["generation"],
            written_at=raw["written_at"],
            partitions={
                int(p): PartitionMark(through, Fingerprint(*last), event, stamp)
                for p, (through, last, event, stamp) in raw["partitions"].items()
            },
            active=[_slice(record) for record in raw["active"]],
            retired=RetiredHours.from_json(raw["retired"]),
            settled_span={kind: tuple(span) for kind, span in raw["settled_span"].items()},
            settled_through={int(p): end for p, end in raw["settled_through"].items()},
            settled_body=body,
        )


def _record(covered: CoveredSlice) -> list:
    c, s = covered.commit, covered.slice
    quarantine = _rows_by_hour(c.quarantine_hours)
    return [
        s.partition,
        s.start,
        s.end,
        covered.take_from,
        c.max_event_time,
        c.raw_hours,
        quarantine,
    ]


def _slice(record: list) -> CoveredSlice:
    p, start, end, take_from, event, raw_hours, quarantine_hours = record
    return CoveredSlice(
        LandedSlice(SliceId(p, start, end), raw_hours, quarantine_hours, event), take_from
    )


def _rows_by_hour(hours: dict) -> dict[str, int]:
    """Quarantine hours of a commit map to rows by reason; a checkpoint keeps the total."""
    return {h: sum(v.values()) if isinstance(v, dict) else v for h, v in hours.items()}
