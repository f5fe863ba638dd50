"""Rebuild one raw hour (and its quarantine hour) whole from the landing cover.

The hour's file is streamed piece by piece in (partition, offset) order, so the same landing
always gives the same file, and memory holds one piece at a time however large the hour is.

Each file records the cover it was built from (`aggregator.landing_through`: per partition, the
landing offset it reaches). Two runs of one hour can overlap (pools and run queues prevent it
in production, but nothing here relies on them): a run that computed its cover, then paused,
could finish after a run that built the hour from a newer cover. Publishing is therefore
compare-and-publish: right before the move, the cover of the file in place is read, and a file
from an older cover never replaces one from a newer cover (`Lake.parquet_writer(replaces=...)`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from aggregator_assets.config import TopicConfig
from aggregator_assets.ingest.commits import CoveredSlice, hour_dir
from aggregator_assets.ingest.cover import Cover
from aggregator_assets.ingest.errors import IngestError
from aggregator_assets.ingest.landing import Landing
from aggregator_assets.ingest.schema import QUARANTINE_SCHEMA, landing_schema, raw_schema
from aggregator_assets.lake import Lake, hour_path

PART_FILE = "part-0.parquet"
COVER_METADATA_KEY = "aggregator.landing_through"


def raw_hour_file(topic: str, hour: datetime) -> str:
    return f"{hour_path('raw', topic, hour=hour)}/{PART_FILE}"


def quarantine_hour_file(topic: str, hour: datetime) -> str:
    return f"{hour_path('quarantine', topic, hour=hour)}/{PART_FILE}"


def file_landing_through(lake: Lake, path: str) -> dict[int, int] | None:
    """The cover an hour file was built from (footer only), or None if there is no file."""
    if not lake.exists(path):
        return None
    return _landing_through(lake.parquet_file(path))


def _landing_through(file: pq.ParquetFile) -> dict[int, int]:
    raw = (file.schema_arrow.metadata or {}).get(COVER_METADATA_KEY.encode())
    return {int(p): o for p, o in json.loads(raw).items()} if raw else {}


def cover_is_older(mine: dict[int, int], existing: dict[int, int] | None) -> bool:
    """Whether a file built through `mine` is stale next to one built through `existing`.

    Covers only grow (the landing is append-only), so a cover that is behind somewhere and
    ahead nowhere was computed earlier. Equal covers give equal files; covers ahead in different
    partitions cannot come from one landing, and the newer write wins, as without a check.
    """
    if not existing:
        return False
    partitions = set(mine) | set(existing)
    behind = any(mine.get(p, 0) < existing.get(p, 0) for p in partitions)
    ahead = any(mine.get(p, 0) > existing.get(p, 0) for p in partitions)
    return behind and not ahead


@dataclass
class HourResult:
    hour: datetime
    raw_file: str
    quarantine_file: str
    rows: int = 0
    late_rows: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    offsets: dict[int, list[int]] = field(default_factory=dict)  # partition -> [min, max]
    event_time_min: datetime | None = None
    event_time_max: datetime | None = None
    # files not published because the hour already had files from a newer cover
    kept_newer: list[str] = field(default_factory=list)

    def add_raw(self, piece: pa.Table) -> None:
        if piece.num_rows == 0:
            return
        self.rows += piece.num_rows
        self.late_rows += pc.sum(piece["is_late"]).as_py() or 0
        lo, hi = pc.min_max(piece["kafka_offset"]).values()
        partition = piece["kafka_partition"][0].as_py()
        span = self.offsets.setdefault(partition, [lo.as_py(), hi.as_py()])
        span[0], span[1] = min(span[0], lo.as_py()), max(span[1], hi.as_py())
        t_lo, t_hi = (v.as_py() for v in pc.min_max(piece["event_time"]).values())
        self.event_time_min = min(filter(None, [self.event_time_min, t_lo]))
        self.event_time_max = max(filter(None, [self.event_time_max, t_hi]))

    def add_quarantine(self, piece: pa.Table) -> None:
        counts = piece.group_by("reason").aggregate([([], "count_all")]).to_pylist()
        for row in counts:
            self.quarantined[row["reason"]] = (
                self.quarantined.get(row["reason"], 0) + row["count_all"]
            )


def build_hour(
    lake: Lake, landing: Landing, topic: TopicConfig, hour: datetime, cover: Cover
) -> HourResult:
    """Write raw and quarantine files of `hour` from every covered slice that has rows for it.

    An hour whose older pieces retention removed (`cover.is_retired`) starts from its sealed
    file, which holds every offset below the cover it records, and adds the rows of the slices
    from there on; rows stay in (partition, offset) order, so the file equals a rebuild from
    every piece.
    """
    name = hour_dir(hour)
    through = cover.through
    result = HourResult(
        hour, raw_hour_file(topic.name, hour), quarantine_hour_file(topic.name, hour)
    )
    metadata = {COVER_METADATA_KEY: json.dumps({str(p): o for p, o in through.items()})}

    def replaces(path: str) -> bool:  # asked under the publish lock, right before the move
        if cover_is_older(through, file_landing_through(lake, path)):
            result.kept_newer.append(path)
            return False
        return True

    for kind, path, schema, add in (
        ("raw", result.raw_file, raw_schema(topic), result.add_raw),
        ("quarantine", result.quarantine_file, QUARANTINE_SCHEMA, result.add_quarantine),
    ):
        inner = landing_schema(topic) if kind == "raw" else QUARANTINE_SCHEMA
        column = inner.get_field_index("kafka_partition")  # the same position in the file
        pieces = _pieces(lake, landing, cover, kind, name, path, column)
        with lake.parquet_writer(path, schema, metadata, replaces=replaces) as writer:
            for piece in pieces:
                # Landing names -> raw names (they differ where a field took a pipeline
                # column's name, see ingest/schema.py); the order is the same.
                piece = piece.rename_columns(inner.names)
                add(piece)
                writer.write_table(piece.rename_columns(schema.names))
    return result


def _pieces(
    lake: Lake,
    landing: Landing,
    cover: Cover,
    kind: str,
    hour: str,
    path: str,
    partition_column: int,
) -> Iterator[pa.Table]:
    """The hour's rows in (partition, offset) order, one piece (or file batch) at a time."""
    slices = cover.slices_for(kind, hour)
    if not cover.is_retired(kind, hour):
        for covered in slices:
            yield landing.read_piece(kind, hour, covered)
        return
    with lake.parquet_snapshot(path) as base:
        if base is None:
            raise IngestError(
                f"{path} is missing, and the landing pieces of that hour were removed after"
                " retention (the sealed file was their record): restore the file from a backup"
            )
        sealed = _landing_through(base)
        by_partition: dict[int, list[CoveredSlice]] = {}
        for covered in slices:
            by_partition.setdefault(covered.slice.partition, []).append(covered)

        def newer(partition: int) -> Iterator[pa.Table]:
            for covered in by_partition.pop(partition, []):
                yield landing.read_piece(kind, hour, covered, sealed.get(partition, 0))

        for batch in base.iter_batches(batch_size=64 * 1024):
            partitions = batch.column(partition_column)
            for partition in pc.unique(partitions).to_pylist():  # ascending: the file is sorted
                for earlier in sorted(p for p in by_partition if p < partition):
                    yield from newer(earlier)
                mask = pc.equal(partitions, pa.scalar(partition, partitions.type))
                yield pa.Table.from_batches([batch.filter(mask)])
        for partition in sorted(by_partition):
            yield from newer(partition)
