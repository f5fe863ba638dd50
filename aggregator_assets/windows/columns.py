"""The column naming scheme of window statistics, and SQL identifier quoting.

One scheme serves both generic telemetry and the existing iot-events consumers:

* keys: the topic's `key_field`, then its `dimensions`, under their own names;
* `window_start`, `window_end`: timestamp[us, UTC], the window is [start, end);
* `event_count`: raw rows in the (key, window), whatever their field values;
* for every numeric field F, always the full set `count_F`, `min_F`, `max_F`, `mean_F`,
  `median_F`, `stddev_F` (sample), `sum_F`; then `avg_F`, an alias of `mean_F`;
* one count column per configured domain count (e.g. `low_battery_count`).

So iot-events gets `avg_value`, `min_value`, `max_value`, `stddev_value`, `avg_battery_level`...
as its dashboards expect, and observatory telemetry gets `mean_value1`, `median_value1`... without
any per-topic special case. NaN counts as missing, like null: it is not counted and does not
poison a mean. Statistics are float64 (ints are widened so an hour's schema never depends on its
data); counts are int64. A statistic over no values (a window where F is always null) is null.
"""

from __future__ import annotations

import pyarrow as pa

from aggregator_assets.config.models import TopicConfig

STATS = ("count", "min", "max", "mean", "median", "stddev", "sum")
ALIASES = {"avg": "mean"}
WINDOW_COLUMNS = ("window_start", "window_end")
TIMESTAMP = pa.timestamp("us", tz="UTC")


def quote_identifier(name: str) -> str:
    """A DuckDB identifier in double quotes, inner quotes doubled: safe for any column name."""
    return '"' + name.replace('"', '""') + '"'


def key_columns(topic: TopicConfig) -> list[str]:
    """The group key of a window row: the key field, then the dimensions (deduplicated)."""
    return list(dict.fromkeys([topic.key_field, *topic.dimensions]))


def stat_column(stat: str, field: str) -> str:
    return f"{stat}_{field}"


def output_schema(topic: TopicConfig, key_types: dict[str, pa.DataType]) -> pa.Schema:
    """The schema of a windows file; key types come from the raw table (string if unknown).

    Raises ValueError when two generated names collide (e.g. a dimension called `mean_value`),
    because a silently overwritten column would be worse than a failed build.
    """
    fields = [pa.field(k, key_types.get(k, pa.string())) for k in key_columns(topic)]
    fields += [pa.field(c, TIMESTAMP) for c in WINDOW_COLUMNS]
    fields.append(pa.field("event_count", pa.int64()))
    for name in topic.numeric_fields:
        for stat in (*STATS, *ALIASES):
            kind = pa.int64() if stat == "count" else pa.float64()
            fields.append(pa.field(stat_column(stat, name), kind))
    fields += [pa.field(name, pa.int64()) for name in topic.domain_counts]
    names = [f.name for f in fields]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"topic {topic.name!r}: window columns collide: {dupes}")
    return pa.schema(fields)
