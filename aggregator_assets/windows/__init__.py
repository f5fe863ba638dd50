"""Tumbling-window statistics of raw hours: pure transforms, their SQL, checks and plot."""

from aggregator_assets.windows.checks import CheckOutcome, check_windows, merge_outcomes
from aggregator_assets.windows.columns import key_columns, output_schema, quote_identifier
from aggregator_assets.windows.compute import compute_window_stats, raw_read_options
from aggregator_assets.windows.hourly import (
    RawHourMissingError,
    WindowHour,
    build_window_hour,
    raw_file,
    windows_file,
)
from aggregator_assets.windows.plot import markdown_image, plot_windows_png

__all__ = [
    "CheckOutcome",
    "RawHourMissingError",
    "WindowHour",
    "build_window_hour",
    "check_windows",
    "compute_window_stats",
    "key_columns",
    "markdown_image",
    "merge_outcomes",
    "output_schema",
    "plot_windows_png",
    "quote_identifier",
    "raw_file",
    "raw_read_options",
    "windows_file",
]
