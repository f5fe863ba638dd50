"""Which landed pieces hold records not yet in a sealed hour file.

A sealed hour file records the landing offsets it was built through
(`aggregator.landing_through`), and holds every offset of its hour below them. So the live rows
of an hour are the rows of its covered slices from `max(take_from, sealed through)` on; an hour
whose file reaches every slice has none, and its pieces are not read at all. Only hour footers
are read, never Parquet data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aggregator_assets.ingest.commits import hour_of_dir
from aggregator_assets.ingest.cover import Cover
from aggregator_assets.ingest.hours import file_landing_through, quarantine_hour_file, raw_hour_file
from aggregator_assets.ingest.landing import Landing
from aggregator_assets.lake import Lake

SEALED_FILES = {"raw": raw_hour_file, "quarantine": quarantine_hour_file}


@dataclass(frozen=True)
class LivePiece:
    """One landing piece file and the first offset of it that is live (not sealed, not a
    duplicate of an earlier slice)."""

    kind: str  # raw | quarantine
    hour: datetime
    partition: int
    path: str  # relative to the lake root
    take_from: int


def live_pieces(lake: Lake, landing: Landing, cover: Cover, topic: str) -> list[LivePiece]:
    """The live pieces of every kept hour, in (kind, hour, partition, offset) order."""
    found: list[LivePiece] = []
    for kind, hour_name in sorted(cover.hours()):
        if cover.is_retired(kind, hour_name):  # its sealed file holds those offsets
            continue
        hour = hour_of_dir(hour_name)
        sealed = file_landing_through(lake, SEALED_FILES[kind](topic, hour)) or {}
        for covered in cover.slices_for(kind, hour_name):
            s = covered.slice
            take_from = max(covered.take_from, sealed.get(s.partition, 0))
            if take_from < s.end:
                path = landing.piece_path(kind, hour_name, s)
                found.append(LivePiece(kind, hour, s.partition, path, take_from))
    return found
