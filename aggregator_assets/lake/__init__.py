"""The Parquet lake: Hive-style hour folders on a local disk or S3, written atomically.

`Lake` (Arrow) is imported on first use (PEP 562), so that modules naming it only in type
hints or for path helpers load without Arrow.
"""

from aggregator_assets.lake.paths import day_path, hour_path, parse_hour_path

__all__ = ["Lake", "day_path", "hour_path", "parse_hour_path"]


def __getattr__(name: str) -> object:
    if name != "Lake":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from aggregator_assets.lake.storage import Lake

    return Lake
