"""Landing lifecycle: compaction, retention and garbage collection of one topic's landing log.

Without it the landing log grows forever (about three times the data once raw holds it too),
commit markers pile up (a sensor tick lists them all) and orphans of crashed runs stay. A pass:

1. **Snapshot** the landing (newest checkpoint + loose markers, `Landing.snapshot`).
2. **Sealing and retention.** A piece is sealed once its hour file (raw or quarantine) was built
   through its slice (`aggregator.landing_through` in the file's footer). Footers are read for
   the pieces not yet known sealed (landed since about the previous pass) and for hours past
   `retention`. The sealed pieces of an hour that ended more than `retention` ago are dropped
   and the hour is marked retired: its file is now their record, and a rebuild starts from it
   (`hours.build_hour`). Pieces of hours without a file, and slices landed after the file was
   built, are kept. Old sealed hours without any piece are marked retired too, so retired hours
   stay one span.
3. **Compaction.** The chain of the cover is written as checkpoint generation N+1 (its slices
   with kept pieces, active or settled, per-partition marks, retired hours), published only if
   no generation N+1 exists yet.
4. **Deletion**, only of what the *previous* checkpoint (N, already published and read as the
   newest) made redundant, one generation late: markers of slices ending at or below its
   `through`, up to the first slice N knows with an unsealed piece (the markers left are a
   contiguous tail of the chain, its last slice included); pieces neither N nor N+1 keeps,
   once older than `gc_grace` and below the end of the chain (orphans of crashed slices,
   duplicates of concurrent runs, retired pieces; an orphan past the end keeps its name until
   a run lands that slice again and commits it); checkpoints older than N; folders left
   empty. A concurrent maintenance that wrote its own N+1 from the same N keeps a subset of
   N's pieces plus those of markers it read, which are either kept here too or younger than
   the grace period, so nothing it references is deleted.

A kill -9 at any point leaves either the old checkpoint or the new one, plus files that the next
pass deletes; readers that read an older checkpoint and find a piece gone fail with a transient
error and the retry reads the newer one.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from datetime import datetime, timezone

from aggregator_assets.config import LandingSettings
from aggregator_assets.ingest.checkpoint import KINDS, Checkpoint, PartitionMark, RetiredHours
from aggregator_assets.ingest.commits import (
    HOUR,
    CoveredSlice,
    LandedSlice,
    SliceId,
    hour_dir,
    hour_of_dir,
)
from aggregator_assets.ingest.cover import Cover
from aggregator_assets.ingest.hours import file_landing_through, quarantine_hour_file, raw_hour_file
from aggregator_assets.ingest.landing import Landing, LandingSnapshot
from aggregator_assets.lake import Lake
from aggregator_assets.lake.storage import STAGING_DIR

HOUR_FILES = {"raw": raw_hour_file, "quarantine": quarantine_hour_file}


@dataclass
class MaintenanceReport:
    """What one pass did to one topic's landing log."""

    topic: str
    generation: int | None = None  # the checkpoint now newest
    compacted: int = 0  # loose markers folded into the new checkpoint
    retired_hours: list[str] = field(default_factory=list)  # hours retired in this pass
    removed: dict[str, int] = field(default_factory=dict)  # what -> files removed
    removed_bytes: int = 0
    kept_bytes: int = 0  # pieces, markers and checkpoints left in the landing log
    kept_pieces: int = 0
    oldest_landing: str | None = None  # hour of the oldest piece still kept
    note: str = ""

    def count(self, what: str, files: int, size: int) -> None:
        if files:
            self.removed[what] = self.removed.get(what, 0) + files
            self.removed_bytes += size


def maintain_topic(
    lake: Lake, topic: str, settings: LandingSettings, now: datetime | None = None
) -> MaintenanceReport:
    """One maintenance pass over a topic's landing log (safe beside runs, ticks and passes)."""
    now = now or datetime.now(timezone.utc)
    landing = Landing(lake, topic)
    report = MaintenanceReport(topic)
    snapshot = landing.snapshot()
    base = snapshot.checkpoint
    cover = snapshot.cover()
    pieces = _sort_pieces(lake, topic, base, cover, now - settings.retention_period)
    new = base
    if snapshot.commits or pieces.changed:
        new = _next_checkpoint(snapshot, cover, pieces)
        published = lake.write_bytes(
            landing.checkpoint_path(new.generation), new.to_json(), replaces=lambda _: False
        )
        if not published:
            report.note = f"checkpoint {new.generation} was written by a concurrent pass"
            return report
        report.compacted = len(snapshot.commits)
        report.retired_hours = sorted({f"{kind} {hour}" for kind, hour, _ in pieces.dropped})
    report.generation = new.generation if new else None
    _delete_redundant(landing, snapshot, new, cover.through, now - settings.grace_period, report)
    return report


def collect_staging(lake: Lake, settings: LandingSettings, now: datetime | None = None) -> int:
    """Remove `_staging/` files older than the grace period (left by killed writers)."""
    cutoff = (now or datetime.now(timezone.utc)) - settings.grace_period
    old = [e.path for e in lake.file_infos(STAGING_DIR) if e.mtime and e.mtime < cutoff]
    lake.delete_files(old)
    return len(old)


@dataclass
class _Pieces:
    """The chain's slices sorted by what their pieces are now."""

    active: list[CoveredSlice] = field(default_factory=list)  # a piece not yet sealed
    settled: list[CoveredSlice] = field(default_factory=list)  # every piece sealed
    dropped: set[tuple[str, str, SliceId]] = field(default_factory=set)  # retired pieces
    retired: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in KINDS})
    changed: bool = False  # anything the base checkpoint does not say yet


def _sort_pieces(
    lake: Lake, topic: str, base: Checkpoint | None, cover: Cover, ended_before: datetime
) -> _Pieces:
    """Which pieces are sealed (their hour file was built through their slice), and which of
    those retention retires (the hour ended before `ended_before`). Hour file footers are read
    for the pieces not known to be sealed, and for old ones: a few per pass."""
    known = {c.slice for c in base.settled} if base else set()
    footers: dict[tuple[str, str], dict[int, int] | None] = {}
    out = _Pieces()
    for chain in cover.chains.values():
        for covered in chain:
            kept: dict[str, dict[str, int]] = {k: {} for k in KINDS}
            all_sealed = True
            for kind in KINDS:
                for hour, rows in covered.commit.hours(kind).items():
                    old = hour_of_dir(hour) + HOUR <= ended_before
                    sealed = covered.slice in known
                    if old or not sealed:
                        if (kind, hour) not in footers:
                            path = HOUR_FILES[kind](topic, hour_of_dir(hour))
                            footers[kind, hour] = file_landing_through(lake, path)
                        through = footers[kind, hour]
                        p = covered.slice.partition
                        sealed = through is not None and covered.slice.end <= through.get(p, 0)
                    if sealed and old:
                        out.dropped.add((kind, hour, covered.slice))
                        out.retired[kind].add(hour)
                    else:
                        kept[kind][hour] = _rows(rows)
                        all_sealed &= sealed
            if kept["raw"] or kept["quarantine"]:
                landed = LandedSlice(
                    covered.slice, kept["raw"], kept["quarantine"], covered.commit.max_event_time
                )
                (out.settled if all_sealed else out.active).append(
                    CoveredSlice(landed, covered.take_from)
                )
    _retire_hours_without_pieces(lake, topic, base, cover, out, ended_before)
    out.changed = bool(out.dropped or any(out.retired.values())) or known != {
        c.slice for c in out.settled
    }
    return out


def _retire_hours_without_pieces(
    lake: Lake,
    topic: str,
    base: Checkpoint | None,
    cover: Cover,
    out: _Pieces,
    ended_before: datetime,
) -> None:
    """Mark old sealed hours that have no pieces retired too, so retired hours stay one span
    (quarantine hours with pieces are a few scattered ones). Only hours after the last retired
    span are looked at, so each is looked at about once."""
    retired = base.retired if base else RetiredHours()
    for kind in KINDS:
        with_pieces = {h for c in (*out.active, *out.settled) for h in c.commit.hours(kind)}
        spans = retired.with_hours(kind, out.retired[kind]).spans.get(kind, [])
        if spans:
            hour = hour_of_dir(spans[-1][1]) + HOUR
        else:
            hours = {
                h for chain in cover.chains.values() for c in chain for h in c.commit.hours(kind)
            }
            if not hours:
                continue
            hour = hour_of_dir(min(hours))
        while hour + HOUR <= ended_before:
            name = hour_dir(hour)
            if name not in with_pieces and lake.exists(HOUR_FILES[kind](topic, hour)):
                out.retired[kind].add(name)
            hour += HOUR


def _next_checkpoint(snapshot: LandingSnapshot, cover: Cover, pieces: _Pieces) -> Checkpoint:
    base = snapshot.checkpoint
    retired = base.retired if base else RetiredHours()
    for kind in KINDS:
        retired = retired.with_hours(kind, pieces.retired[kind])
    marks = {}
    for partition, (through, last) in cover.ends.items():
        old = base.partitions.get(partition) if base else None
        commits = [c for c in snapshot.commits if c.slice.partition == partition]
        marks[partition] = PartitionMark(
            through=through,
            last=last,
            max_event_time=_latest(
                [old and old.max_event_time, *(c.max_event_time for c in commits)]
            ),
            max_kafka_timestamp=_latest(
                [old and old.max_kafka_timestamp, *(c.max_kafka_timestamp for c in commits)]
            ),
        )
    return Checkpoint.build(
        (base.generation + 1) if base else 1, marks, pieces.active, pieces.settled, retired
    )


def _delete_redundant(
    landing: Landing,
    snapshot: LandingSnapshot,
    new: Checkpoint | None,
    through_now: dict[int, int],
    grace_cutoff: datetime,
    report: MaintenanceReport,
) -> None:
    lake, base = landing.lake, snapshot.checkpoint
    # Markers a published checkpoint (read as the newest) already holds, or made redundant;
    # but the markers of a partition stay a contiguous tail of its chain that holds its last
    # slice and every slice with a piece not yet sealed, so a reader of markers alone (the live
    # views' SQL) still sees every unsealed landed record and where the landing ends.
    through = base.through if base else {}
    keep_from = {p: end - 1 for p, end in through.items()}
    for covered in base.active if base else ():
        p = covered.slice.partition
        keep_from[p] = min(keep_from[p], covered.slice.start)
    markers = [
        path
        for path, s in snapshot.markers.items()
        if s.end <= min(through.get(s.partition, 0), keep_from.get(s.partition, 0))
    ]
    lake.delete_files(markers)
    report.count("markers", len(markers), 0)
    # Pieces neither the base nor the new checkpoint keeps, once older than the grace period.
    needed = {
        landing.piece_path(kind, hour, covered.slice)
        for checkpoint in (base, new)
        if checkpoint
        for covered in checkpoint.slices
        for kind in KINDS
        for hour in covered.commit.hours(kind)
    }
    needed |= {
        landing.piece_path(kind, hour, commit.slice)
        for commit in snapshot.commits
        for kind in KINDS
        for hour in commit.hours(kind)
    }
    pieces = [e for kind in KINDS for e in lake.file_infos(f"{landing.prefix}/{kind}", True)]
    gone = [
        e
        for e in pieces
        if e.path not in needed
        and e.mtime is not None
        and e.mtime < grace_cutoff
        and _behind(e.path, through_now)
    ]
    gone_paths = {e.path for e in gone}
    folders = {posixpath.dirname(e.path) for e in gone}
    folders -= {posixpath.dirname(e.path) for e in pieces if e.path not in gone_paths}
    lake.delete_files(sorted(gone_paths), sorted(folders))
    report.count("pieces", len(gone), sum(e.size for e in gone))
    report.count("folders", len(folders), 0)
    # Checkpoints older than the base: nobody reads them once the base was the newest.
    old = [
        path for generation, path in landing.checkpoints() if base and generation < base.generation
    ]
    lake.delete_files(old)
    report.count("checkpoints", len(old), 0)
    kept = [e for e in pieces if e.path not in gone_paths]
    report.kept_pieces = len(kept)
    report.kept_bytes = sum(e.size for e in kept) + sum(
        e.size
        for folder in (landing.commits_dir, landing.checkpoints_dir)
        for e in lake.file_infos(folder)
    )
    hours = [posixpath.basename(posixpath.dirname(e.path)) for e in kept]
    report.oldest_landing = hour_of_dir(min(hours)).isoformat() if hours else None


def _behind(piece_path: str, through: dict[int, int]) -> bool:
    """Whether the chain already covers the piece's offsets. A killed run's orphan beyond that
    keeps its name until a run lands the same slice again and commits it, so it is kept."""
    try:
        slice_id = SliceId.parse(posixpath.basename(piece_path))
    except ValueError:
        return True  # not a piece name at all
    return slice_id.end <= through.get(slice_id.partition, 0)


def _rows(value: int | dict[str, int]) -> int:
    return sum(value.values()) if isinstance(value, dict) else value


def _latest(times: list[str | None]) -> str | None:
    present = [datetime.fromisoformat(t) for t in times if t]
    return max(present).isoformat() if present else None
