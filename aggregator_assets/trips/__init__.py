"""Per-trip summaries of vehicle data (issue #4): config, sources and the DuckDB transform."""

from aggregator_assets.trips.config import (
    AggregationsConfig,
    TripsConfig,
    load_aggregations,
    parse_aggregations,
    parse_trips_config,
)
from aggregator_assets.trips.sources import (
    MissingHoursError,
    external_lake_dataset,
    raw_hours_dataset,
)
from aggregator_assets.trips.summarize import OUTPUT_SCHEMA, DaySummary, summarize_day

__all__ = [
    "OUTPUT_SCHEMA",
    "AggregationsConfig",
    "DaySummary",
    "MissingHoursError",
    "TripsConfig",
    "external_lake_dataset",
    "load_aggregations",
    "parse_aggregations",
    "parse_trips_config",
    "raw_hours_dataset",
    "summarize_day",
]
