"""One hour of windows, end to end: read raw from the lake, compute, check, write atomically.

The Dagster asset only loops over the hours of its partition range and reports what this returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from aggregator_assets.config.models import TopicConfig, WindowSpec
from aggregator_assets.lake import Lake, hour_path
from aggregator_assets.windows.checks import CheckOutcome, check_windows
from aggregator_assets.windows.compute import compute_window_stats, raw_read_options

PART_FILE = "part-0.parquet"


class RawHourMissingError(FileNotFoundError):
    """The raw hour a windows partition needs has not been materialized yet."""


@dataclass(frozen=True)
class WindowHour:
    hour: datetime
    path: str
    uri: str
    raw_rows: int
    windows: pa.Table
    checks: list[CheckOutcome]


def raw_file(topic: TopicConfig, hour: datetime) -> str:
    return f"{hour_path('raw', topic.name, hour=hour)}/{PART_FILE}"


def windows_file(topic: TopicConfig, window: WindowSpec, hour: datetime) -> str:
    return f"{hour_path('windows', topic.name, window.name, hour=hour)}/{PART_FILE}"


def build_window_hour(
    lake: Lake, topic: TopicConfig, window: WindowSpec, hour: datetime
) -> WindowHour:
    """Compute and write the windows file of one hour (an empty raw hour gives an empty file)."""
    source = raw_file(topic, hour)
    if not lake.exists(source):
        raise RawHourMissingError(
            f"raw hour {lake.uri(source)} does not exist: materialize raw_{topic.asset_name} "
            f"for partition {hour:%Y-%m-%d-%H:%M} before its windows"
        )
    raw = lake.read_table(source, **raw_read_options(topic))
    windows = compute_window_stats(raw, topic, window.seconds)
    target = windows_file(topic, window, hour)
    lake.write_table(
        target, windows, metadata={"window_size_s": str(window.seconds), "topic": topic.name}
    )
    checks = check_windows(windows, raw.num_rows, hour, topic.key_field, topic.naming)
    return WindowHour(hour, target, lake.uri(target), raw.num_rows, windows, checks)
