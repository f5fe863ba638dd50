"""Tumbling-window statistics of raw hours: pure transforms, their SQL, checks and plot.

Names are imported from their modules on first use (PEP 562), so that importing one light
module of this package (`check_names`) does not import Arrow, DuckDB and matplotlib.
"""

from importlib import import_module

_HOMES = {
    "CheckOutcome": "checks",
    "check_windows": "checks",
    "merge_outcomes": "checks",
    "key_columns": "columns",
    "output_schema": "columns",
    "quote_identifier": "columns",
    "compute_window_stats": "compute",
    "raw_read_options": "compute",
    "RawHourMissingError": "hourly",
    "WindowHour": "hourly",
    "build_window_hour": "hourly",
    "raw_file": "hourly",
    "windows_file": "hourly",
    "markdown_image": "plot",
    "plot_windows_png": "plot",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
