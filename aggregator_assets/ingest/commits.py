"""Commit markers of the landing log: what one landed slice of a Kafka partition holds.

A slice (offsets [start, end) of one partition) counts once its marker exists. The marker lists
the hours the slice has rows for, so planning (the sensor, a raw run, maintenance) needs no
Parquet reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

from aggregator_assets.ingest.fetch import Fingerprint

_SLICE_RE = re.compile(r"p(\d{5})-(\d{20})-(\d{20})")
HOUR_DIR_FORMAT = "%Y-%m-%dT%H"
HOUR = timedelta(hours=1)


def hour_dir(hour: datetime) -> str:
    return f"hour={hour.astimezone(timezone.utc):{HOUR_DIR_FORMAT}}"


def hour_of_dir(name: str) -> datetime:
    """The UTC hour of a landing hour folder name (`hour=2026-11-20T10`)."""
    return datetime.strptime(name.removeprefix("hour="), HOUR_DIR_FORMAT).replace(
        tzinfo=timezone.utc
    )


@dataclass(frozen=True, order=True)
class SliceId:
    partition: int
    start: int
    end: int

    @property
    def name(self) -> str:
        return f"p{self.partition:05d}-{self.start:020d}-{self.end:020d}"

    @classmethod
    def parse(cls, name: str) -> SliceId:
        match = _SLICE_RE.search(name)
        if not match:
            raise ValueError(f"not a landing slice name: {name}")
        return cls(*(int(g) for g in match.groups()))


@dataclass(frozen=True)
class LandedSlice:
    """What a planner needs of a slice: its offsets, its hours (-> rows), its latest event time.

    Commits are landed slices; so are the slices a checkpoint keeps (which drop the fields only
    the landing run needs).
    """

    slice: SliceId
    raw_hours: dict[str, int]  # hour dir -> rows
    quarantine_hours: dict  # hour dir -> rows, or reason -> rows in a commit
    max_event_time: str | None

    def hours(self, kind: str) -> dict:
        """The hours this slice has rows for, in `raw` or in `quarantine`."""
        return self.raw_hours if kind == "raw" else self.quarantine_hours


@dataclass(frozen=True)
class Commit(LandedSlice):
    """The marker of one committed slice."""

    last: Fingerprint
    late_hours: dict[str, int]
    quarantine_hours: dict[str, dict[str, int]]  # hour dir -> reason -> rows
    max_kafka_timestamp: str | None
    committed_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Commit:
        raw = json.loads(data)
        return cls(slice=SliceId(**raw.pop("slice")), last=Fingerprint(**raw.pop("last")), **raw)


@dataclass(frozen=True)
class CoveredSlice:
    """A slice in the cover; offsets below `take_from` are already held by an earlier slice."""

    commit: LandedSlice
    take_from: int

    @property
    def slice(self) -> SliceId:
        return self.commit.slice
