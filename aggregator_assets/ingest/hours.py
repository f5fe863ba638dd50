"""Rebuild one raw hour (and its quarantine hour) whole from the landing cover.

The hour's file is streamed piece by piece in (partition, offset) order, so the same landing
always gives the same file, and memory holds one piece at a time however large the hour is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from aggregator_assets.config import TopicConfig
from aggregator_assets.ingest.landing import CoveredSlice, Landing, hour_dir
from aggregator_assets.ingest.schema import QUARANTINE_SCHEMA, raw_schema
from aggregator_assets.lake import Lake, hour_path

PART_FILE = "part-0.parquet"
COVER_METADATA_KEY = "aggregator.landing_through"


def raw_hour_file(topic: str, hour: datetime) -> str:
    return f"{hour_path('raw', topic, hour=hour)}/{PART_FILE}"


def quarantine_hour_file(topic: str, hour: datetime) -> str:
    return f"{hour_path('quarantine', topic, hour=hour)}/{PART_FILE}"


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


def _covered_slices(cover: dict[int, list[CoveredSlice]]) -> list[CoveredSlice]:
    return [c for partition in sorted(cover) for c in cover[partition]]


def build_hour(
    lake: Lake, landing: Landing, topic: TopicConfig, hour: datetime, cover: dict
) -> HourResult:
    """Write raw and quarantine files of `hour` from every covered slice that has rows for it."""
    name = hour_dir(hour)
    slices = _covered_slices(cover)
    through = json.dumps({str(p): chain[-1].slice.end for p, chain in cover.items() if chain})
    result = HourResult(
        hour, raw_hour_file(topic.name, hour), quarantine_hour_file(topic.name, hour)
    )
    metadata = {COVER_METADATA_KEY: through}
    for kind, path, schema, add in (
        ("raw", result.raw_file, raw_schema(topic), result.add_raw),
        ("quarantine", result.quarantine_file, QUARANTINE_SCHEMA, result.add_quarantine),
    ):
        with lake.parquet_writer(path, schema, metadata) as writer:
            for covered in slices:
                if name in covered.commit.hours(kind):
                    piece = landing.read_piece(kind, name, covered)
                    add(piece)
                    # Landing names -> raw names (they differ where a field took a pipeline
                    # column's name, see ingest/schema.py); the order is the same.
                    writer.write_table(piece.rename_columns(schema.names))
    return result
