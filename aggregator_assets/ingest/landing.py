"""The landing log: what the lake has ingested from Kafka, by partition and offset range.

Each fetched slice of a Kafka partition (offsets [start, end)) is decoded and written as one
piece per event hour under `_landing/<topic>/raw/hour=.../` (and per arrival hour under
`quarantine/`), then committed by a small JSON marker under `commits/`. A slice counts only once
its marker exists, so a crash between pieces and marker leaves nothing that readers use.

The cover of a partition is the chain of committed slices from its first offset. Two runs that
ingested the same offsets concurrently leave overlapping slices; the cover takes each offset
from the first slice that holds it, so every record is counted exactly once whatever the
interleaving. Hour files in raw are rebuilt from the cover, which is why a rerun is deterministic
and why records the broker has since lost are still in the lake.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc

from aggregator_assets.ingest.decode import HOUR_COLUMN, DecodedBatch
from aggregator_assets.ingest.fetch import Fingerprint, IngestError
from aggregator_assets.ingest.schema import UTC_MS
from aggregator_assets.lake import Lake
from aggregator_assets.lake.paths import safe_segment

_SLICE_RE = re.compile(r"p(\d{5})-(\d{20})-(\d{20})")
HOUR_DIR_FORMAT = "%Y-%m-%dT%H"


def hour_dir(hour: datetime) -> str:
    return f"hour={hour.astimezone(timezone.utc):{HOUR_DIR_FORMAT}}"


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
class Commit:
    """What one committed slice holds, so planning needs no Parquet reads."""

    slice: SliceId
    last: Fingerprint
    raw_hours: dict[str, int]  # hour dir -> rows
    late_hours: dict[str, int]
    quarantine_hours: dict[str, dict[str, int]]  # hour dir -> reason -> rows
    max_event_time: str | None
    max_kafka_timestamp: str | None
    committed_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    def hours(self, kind: str) -> dict:
        """The hours this slice has rows for, in `raw` or in `quarantine`."""
        return self.raw_hours if kind == "raw" else self.quarantine_hours

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Commit:
        raw = json.loads(data)
        return cls(slice=SliceId(**raw.pop("slice")), last=Fingerprint(**raw.pop("last")), **raw)


@dataclass(frozen=True)
class CoveredSlice:
    """A slice in the cover; offsets below `take_from` are already held by an earlier slice."""

    commit: Commit
    take_from: int

    @property
    def slice(self) -> SliceId:
        return self.commit.slice


def compute_cover(commits: list[Commit]) -> dict[int, list[CoveredSlice]]:
    """Chain committed slices per partition; raise if offsets are missing between them."""
    by_partition: dict[int, list[Commit]] = defaultdict(list)
    for commit in commits:
        by_partition[commit.slice.partition].append(commit)
    cover: dict[int, list[CoveredSlice]] = {}
    for partition, items in by_partition.items():
        items.sort(key=lambda c: (c.slice.start, -c.slice.end))
        chain: list[CoveredSlice] = []
        covered = items[0].slice.start
        for commit in items:
            if commit.slice.start > covered:
                raise IngestError(
                    f"landing of partition {partition} has no slice for offsets"
                    f" {covered}..{commit.slice.start - 1}: the landing folder was altered"
                )
            if commit.slice.end <= covered:
                continue
            chain.append(CoveredSlice(commit, take_from=covered))
            covered = commit.slice.end
        cover[partition] = chain
    return cover


class Landing:
    """The landing log of one topic inside a lake."""

    def __init__(self, lake: Lake, topic: str):
        self.lake = lake
        self.prefix = f"_landing/{safe_segment(topic)}"

    def piece_path(self, kind: str, hour: str, slice_id: SliceId) -> str:
        return f"{self.prefix}/{kind}/{hour}/{slice_id.name}.parquet"

    def commits(self) -> list[Commit]:
        paths = self.lake.list_files(f"{self.prefix}/commits", ".json")
        return [Commit.from_json(self.lake.read_bytes(p)) for p in paths]

    def landed_positions(
        self, cover: dict[int, list[CoveredSlice]]
    ) -> dict[int, tuple[int, Fingerprint | None]]:
        """Per partition: the next offset to ingest and the fingerprint of the one before."""
        return {p: (chain[-1].slice.end, chain[-1].commit.last) for p, chain in cover.items()}

    def write(self, slice_id: SliceId, decoded: DecodedBatch, last: Fingerprint) -> Commit:
        """Write the pieces of a slice, then its commit marker (which makes it count)."""
        valid, bad = decoded.valid, decoded.quarantine
        raw_hours, late_hours, quarantine_hours = {}, {}, {}
        for hour, piece in _split_by_hour(valid):
            self._write_piece("raw", hour, slice_id, piece)
            raw_hours[hour] = piece.num_rows
            late = pc.sum(piece["is_late"]).as_py()
            if late:
                late_hours[hour] = late
        for hour, piece in _split_by_hour(bad):
            self._write_piece("quarantine", hour, slice_id, piece)
            counts = piece.group_by("reason").aggregate([([], "count_all")]).to_pylist()
            quarantine_hours[hour] = {r["reason"]: r["count_all"] for r in counts}
        stamps = pa.chunked_array(
            valid["kafka_timestamp"].chunks + bad["kafka_timestamp"].chunks, UTC_MS
        )
        commit = Commit(
            slice=slice_id,
            last=last,
            raw_hours=raw_hours,
            late_hours=late_hours,
            quarantine_hours=quarantine_hours,
            max_event_time=_iso(pc.max(valid["event_time"]).as_py()),
            max_kafka_timestamp=_iso(pc.max(stamps).as_py()),
        )
        self.lake.write_bytes(f"{self.prefix}/commits/{slice_id.name}.json", commit.to_json())
        return commit

    def _write_piece(self, kind: str, hour: str, slice_id: SliceId, piece: pa.Table) -> None:
        # Landing pieces are read back once or twice: favour write speed over size.
        self.lake.write_table(self.piece_path(kind, hour, slice_id), piece, compression="lz4")

    def read_piece(self, kind: str, hour: str, covered: CoveredSlice) -> pa.Table:
        path = self.piece_path(kind, hour, covered.slice)
        table = self.lake.read_table(path)
        if covered.take_from > covered.slice.start:
            table = table.filter(pc.greater_equal(table["kafka_offset"], covered.take_from))
        return table


def _split_by_hour(table: pa.Table) -> list[tuple[str, pa.Table]]:
    """(hour folder name, rows of that hour without the hour column) for each hour present."""
    if table.num_rows == 0:
        return []
    hours = table[HOUR_COLUMN]
    rest = table.drop_columns([HOUR_COLUMN])
    return [
        (hour_dir(hour), rest.filter(pc.equal(hours, pa.scalar(hour, hours.type))))
        for hour in sorted(pc.unique(hours).to_pylist())
    ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
