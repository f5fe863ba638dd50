"""The landing log: what the lake has ingested from Kafka, by partition and offset range.

Each fetched slice of a Kafka partition (offsets [start, end)) is decoded and written as one
piece per event hour under `_landing/<topic>/raw/hour=.../` (and per arrival hour under
`quarantine/`), then committed by a small JSON marker under `commits/`. A slice counts only once
its marker exists, so a crash between pieces and marker leaves nothing that readers use. How the
slices chain into one record of every offset is `cover.py`.

Maintenance (`lifecycle.py`) compacts the markers into a checkpoint under `checkpoints/` and
removes what is no longer needed, while runs and sensor ticks read. A reader therefore takes a
snapshot: the newest checkpoint, then the loose markers, then checks that no newer checkpoint
appeared meanwhile (maintenance removes a marker only after a checkpoint holding it was
published, so a marker missing from the listing is in that newer checkpoint); if one did, it
reads again. A snapshot costs three listings of small folders and the reads of the checkpoint
and of the markers it needs, however old the topic is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from aggregator_assets.ingest.checkpoint import Checkpoint, checkpoint_name, generation_of
from aggregator_assets.ingest.commits import (
    HOUR_DIR_FORMAT,
    Commit,
    CoveredSlice,
    LandedSlice,
    SliceId,
    hour_dir,
)
from aggregator_assets.ingest.cover import Cover, compute_cover
from aggregator_assets.ingest.decode import HOUR_COLUMN, DecodedBatch
from aggregator_assets.ingest.errors import TransientIngestError
from aggregator_assets.ingest.fetch import Fingerprint
from aggregator_assets.ingest.schema import UTC_MS
from aggregator_assets.lake import Lake
from aggregator_assets.lake.paths import safe_segment

__all__ = [
    "HOUR_DIR_FORMAT",
    "Commit",
    "CoveredSlice",
    "Landing",
    "LandingChanges",
    "LandingSnapshot",
    "LooseMarkers",
    "SliceId",
    "compute_cover",
    "hour_dir",
]

# Pieces older than the GC grace period without a marker are orphans. A slice whose pieces took
# longer than this to write is not committed (the run lands it again), so an in-flight slice is
# never that old; the config requires the grace period to be longer.
COMMIT_DEADLINE_S = 15 * 60
SNAPSHOT_ATTEMPTS = 5


@dataclass(frozen=True)
class LandingSnapshot:
    """One consistent read of the landing's index: a checkpoint and the loose markers after it."""

    checkpoint: Checkpoint | None
    checkpoint_path: str | None
    markers: dict[str, SliceId]  # every loose marker listed (path -> slice)
    commits: list[Commit]  # the markers read: those ending past the checkpoint (and `since`)
    since: dict[int, int]  # the `since` asked for, forgotten where the landing is shorter

    @property
    def landed_end(self) -> dict[int, int]:
        ends = dict(self.checkpoint.through) if self.checkpoint else {}
        for s in self.markers.values():
            ends[s.partition] = max(ends.get(s.partition, 0), s.end)
        return ends

    def cover(self) -> Cover:
        return compute_cover(self.commits, self.checkpoint)


class LooseMarkers(list):
    """Commit markers read together with the checkpoint they continue (`Landing.commits`)."""

    def __init__(self, commits: list[Commit], checkpoint: Checkpoint | None):
        super().__init__(commits)
        self.checkpoint = checkpoint


@dataclass(frozen=True)
class LandingChanges:
    """What a sensor tick needs: how far the landing reaches, and what landed since its cursor."""

    landed_end: dict[int, int]
    slices: list[LandedSlice]  # every slice ending after the cursor
    max_event_time: dict[int, str]  # per partition, over the compacted slices (retired included)


class Landing:
    """The landing log of one topic inside a lake."""

    def __init__(self, lake: Lake, topic: str):
        self.lake = lake
        self.prefix = f"_landing/{safe_segment(topic)}"
        self.commits_dir = f"{self.prefix}/commits"
        self.checkpoints_dir = f"{self.prefix}/checkpoints"

    def piece_path(self, kind: str, hour: str, slice_id: SliceId) -> str:
        return f"{self.prefix}/{kind}/{hour}/{slice_id.name}.parquet"

    def marker_path(self, slice_id: SliceId) -> str:
        return f"{self.commits_dir}/{slice_id.name}.json"

    def checkpoint_path(self, generation: int) -> str:
        return f"{self.checkpoints_dir}/{checkpoint_name(generation)}"

    # -- reading the index -----------------------------------------------------------------

    def checkpoints(self) -> list[tuple[int, str]]:
        """(generation, path) of every checkpoint file, oldest first."""
        found = []
        for path in self.lake.list_files(self.checkpoints_dir, ".json"):
            generation = generation_of(path)
            if generation is not None:
                found.append((generation, path))
        return sorted(found)

    def snapshot(
        self, since: dict[int, int] | None = None, every_marker: bool = False
    ) -> LandingSnapshot:
        """The newest checkpoint and the loose markers after it (read only past `since`, or
        every loose marker)."""
        for _ in range(SNAPSHOT_ATTEMPTS):
            newest = (self.checkpoints() or [(None, None)])[-1][1]
            try:
                snapshot = self._read(newest, since or {}, every_marker)
            except FileNotFoundError:  # maintenance removed what was listed: read again
                continue
            if (self.checkpoints() or [(None, None)])[-1][1] == newest:
                return snapshot
        raise TransientIngestError(
            f"{self.prefix}: the landing index changed under {SNAPSHOT_ATTEMPTS} reads in a row"
        )

    def _read(
        self, checkpoint_path: str | None, since: dict[int, int], every_marker: bool = False
    ) -> LandingSnapshot:
        checkpoint = (
            Checkpoint.from_json(self.lake.read_bytes(checkpoint_path)) if checkpoint_path else None
        )
        paths = self.lake.list_files(self.commits_dir, ".json")
        markers = {p: SliceId.parse(p.rsplit("/", 1)[-1]) for p in paths}
        ends = LandingSnapshot(checkpoint, checkpoint_path, markers, [], {}).landed_end
        # A cursor past the end of the landing belongs to a landing that was wiped.
        since = {p: o for p, o in since.items() if o <= ends.get(p, 0)}
        through = checkpoint.through if checkpoint and not every_marker else {}
        floor = {p: max(through.get(p, 0), since.get(p, 0)) for p in ends}
        commits = [
            Commit.from_json(self.lake.read_bytes(path))
            for path, s in markers.items()
            if s.end > floor.get(s.partition, 0)
        ]
        return LandingSnapshot(checkpoint, checkpoint_path, markers, commits, since)

    def cover(self) -> Cover:
        """The cover of everything landed so far (what a raw run plans and builds from)."""
        return self.snapshot().cover()

    def changes_since(self, checked: dict[int, int]) -> LandingChanges:
        """The slices ending after `checked` (per partition), from the checkpoint and the loose
        markers, without reading the markers at or below `checked`."""
        snapshot = self.snapshot(since=checked)
        checkpoint, since = snapshot.checkpoint, snapshot.since
        compacted: list[CoveredSlice] = []
        if checkpoint:
            compacted = checkpoint.active
            behind = checkpoint.settled_through.items()
            if any(end > since.get(p, 0) for p, end in behind):  # a cursor far behind
                compacted = checkpoint.slices
        kept = [c.commit for c in compacted if c.slice.end > since.get(c.slice.partition, 0)]
        marks = checkpoint.partitions if checkpoint else {}
        return LandingChanges(
            landed_end=snapshot.landed_end,
            slices=[*kept, *snapshot.commits],
            max_event_time={p: m.max_event_time for p, m in marks.items() if m.max_event_time},
        )

    def commits(self) -> LooseMarkers:
        """Every commit marker in `commits/` (a contiguous tail of each partition's chain, see
        `lifecycle.py`). The list remembers the checkpoint it was read with, so that
        `compute_cover(landing.commits())` still gives the whole cover, as `cover()` does."""
        snapshot = self.snapshot(every_marker=True)
        return LooseMarkers(snapshot.commits, snapshot.checkpoint)

    def landed_positions(self, cover: Cover) -> dict[int, tuple[int, Fingerprint | None]]:
        """Per partition: the next offset to ingest and the fingerprint of the one before."""
        return dict(cover.ends)

    # -- writing ---------------------------------------------------------------------------

    def write(self, slice_id: SliceId, decoded: DecodedBatch, last: Fingerprint) -> Commit:
        """Write the pieces of a slice, then its commit marker (which makes it count)."""
        started = time.monotonic()
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
        if time.monotonic() - started > COMMIT_DEADLINE_S:
            raise TransientIngestError(
                f"{self.prefix}: writing slice {slice_id.name} took over {COMMIT_DEADLINE_S}s;"
                " its pieces may already count as orphans, so it is not committed (the retry"
                " lands it again)"
            )
        self.lake.write_bytes(self.marker_path(slice_id), commit.to_json())
        return commit

    def _write_piece(self, kind: str, hour: str, slice_id: SliceId, piece: pa.Table) -> None:
        # Landing pieces are read back once or twice: favour write speed over size.
        self.lake.write_table(self.piece_path(kind, hour, slice_id), piece, compression="lz4")

    def read_piece(
        self, kind: str, hour: str, covered: CoveredSlice, from_offset: int = 0
    ) -> pa.Table:
        """The rows of a covered slice in one hour, from `take_from` (or `from_offset`) on."""
        path = self.piece_path(kind, hour, covered.slice)
        try:
            table = self.lake.read_table(path)
        except FileNotFoundError as exc:
            raise TransientIngestError(
                f"landing piece {path} is gone: maintenance removed it after this run read the"
                " landing (a retry reads the newer checkpoint), or the landing folder was altered"
            ) from exc
        first = max(covered.take_from, from_offset)
        if first > covered.slice.start:
            table = table.filter(pc.greater_equal(table["kafka_offset"], first))
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
