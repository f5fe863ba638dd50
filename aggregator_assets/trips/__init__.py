"""Per-trip summaries of vehicle data (issue #4): config, sources and the DuckDB transform.

The config models are exported here; import the transform from its modules
(`trips.sources`, `trips.summarize`, `trips.legacy`). The pipeline config validates its
`trips:` section with `trips.config` while loading, so importing this package stays as light
as the config (no Dagster, DuckDB or pyarrow): `aggregator-assets config-check` stays quick.
"""

from aggregator_assets.trips.config import (
    AggregationsConfig,
    TripsConfig,
    load_aggregations,
    parse_aggregations,
    parse_trips_section,
    sample_time_column,
)

__all__ = [
    "AggregationsConfig",
    "TripsConfig",
    "load_aggregations",
    "parse_aggregations",
    "parse_trips_section",
    "sample_time_column",
]
