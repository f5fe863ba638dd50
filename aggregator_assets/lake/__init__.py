"""The Parquet lake: Hive-style hour folders on a local disk or S3, written atomically."""

from aggregator_assets.lake.paths import day_path, hour_path, parse_hour_path
from aggregator_assets.lake.storage import Lake

__all__ = ["Lake", "day_path", "hour_path", "parse_hour_path"]
