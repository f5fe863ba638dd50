"""Provisional windows: the window statistics of the hours that still have live rows.

An hour's provisional windows are computed with the hourly windows' own function
(`compute_window_stats`) from the rows the hour will hold once sealed: its sealed file (if late
records reopened it) plus its live rows, in (partition, offset) order, the order of an hour file.
Same rows in the same order give the same numbers, floating-point sums included, so every window
that was closed when computed equals the sealed hour's window (unless a record later than
`allowed_lateness` arrives for it, which the sealed hour then counts too).

`window_closed` is true when the window's end + the topic's `allowed_lateness` <= the topic's
event-time watermark (the one the topic sensor closes hours with).
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from aggregator_assets.config.models import TopicConfig, WindowSpec
from aggregator_assets.ingest.hours import raw_hour_file
from aggregator_assets.ingest.landing import Landing
from aggregator_assets.ingest.schema import landing_schema, raw_schema
from aggregator_assets.lake import Lake
from aggregator_assets.live.pieces import LivePiece
from aggregator_assets.windows.columns import window_bounds
from aggregator_assets.windows.compute import compute_window_stats, empty_raw_table, raw_columns

CLOSED_COLUMN = "window_closed"


def provisional_file(topic: TopicConfig, window: WindowSpec) -> str:
    return f"live/windows/{topic.name}/{window.name}/part-0.parquet"


def open_hour_rows(lake: Lake, landing: Landing, topic: TopicConfig, pieces: list[LivePiece]):
    """Hour -> the rows (raw names, the columns windows read) it will hold once sealed."""
    columns = raw_columns(topic)
    offset = topic.pipeline_columns["kafka_offset"]
    partition = topic.pipeline_columns["kafka_partition"]
    wanted = list(dict.fromkeys([*columns, partition, offset]))
    names = raw_schema(topic).names
    inner = landing_schema(topic).names
    by_hour: dict[datetime, list[pa.Table]] = {}
    for piece in pieces:
        if piece.kind != "raw":
            continue
        hour_rows = by_hour.get(piece.hour)
        if hour_rows is None:
            hour_rows = by_hour[piece.hour] = []
            sealed = raw_hour_file(topic.name, piece.hour)
            if lake.exists(sealed):
                hour_rows.append(lake.read_table(sealed, columns=wanted))
        table = lake.read_table(piece.path).rename_columns(inner)
        table = table.rename_columns(names)
        table = table.filter(pc.greater_equal(table[offset], piece.take_from))
        hour_rows.append(table.select(wanted))
    out = {}
    for hour, tables in sorted(by_hour.items()):
        rows = pa.concat_tables(tables, promote_options="permissive")
        out[hour] = rows.sort_by([(partition, "ascending"), (offset, "ascending")]).select(columns)
    return out


def provisional_windows(
    hour_rows: dict[datetime, pa.Table],
    topic: TopicConfig,
    window: WindowSpec,
    watermark: datetime | None,
) -> pa.Table:
    """The windows of every open hour, with `window_closed`, in hour order."""
    parts = [compute_window_stats(rows, topic, window.seconds) for rows in hour_rows.values()]
    if not parts:
        parts = [compute_window_stats(empty_raw_table(topic), topic, window.seconds)]
    windows = pa.concat_tables(parts, promote_options="permissive")
    _, end = window_bounds(windows, topic.naming)
    if watermark is None:
        closed = pa.array([False] * windows.num_rows)
    else:
        edge = pa.scalar(watermark - topic.lateness, end.type)
        closed = pc.fill_null(pc.less_equal(end, edge), False)
    return windows.append_column(CLOSED_COLUMN, closed)


def write_provisional(lake: Lake, topic: TopicConfig, window: WindowSpec, table: pa.Table) -> str:
    path = provisional_file(topic, window)
    lake.write_table(path, table, metadata={"window_size_s": str(window.seconds)})
    return path
