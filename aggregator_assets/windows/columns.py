"""The columns of window statistics files, their Arrow types, and SQL identifier quoting.

Which columns a topic's windows carry, and under which names, is its naming profile
(`window_naming`, see `aggregator_assets.config.window_naming`): `default` serves generic
telemetry and the iot-events dashboards (`window_start`, `event_count`, `avg_value`,
`stddev_value`...), `kafka-aggregator` the observatory dashboards built on lsst-sqre's
kafka-aggregator (`time`, `window_size`, `count`, `stdev_value`...). Only aggregated numeric
fields get statistics: by default every numeric field except the event-time field
(`aggregate:` in a field's config says otherwise).

NaN counts as missing, like null: it is not counted and does not poison a mean. Statistics are
float64 (ints are widened so an hour's schema never depends on its data); counts are int64. A
statistic over no values (a window where F is always null) is null.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from aggregator_assets.config.models import TopicConfig
from aggregator_assets.config.names import quote_identifier  # noqa: F401 (re-exported)
from aggregator_assets.config.window_naming import WindowNaming

TIMESTAMP = pa.timestamp("us", tz="UTC")
_TYPES = {
    "start": TIMESTAMP,
    "end": TIMESTAMP,
    "midpoint_s": pa.float64(),
    "size_s": pa.float64(),
    "count": pa.int64(),
    "domain_count": pa.int64(),
}


def key_columns(topic: TopicConfig) -> list[str]:
    """The group key of a window row: the key field, then the dimensions (deduplicated)."""
    return [c.name for c in topic.window_columns if c.kind == "key"]


def output_schema(topic: TopicConfig, key_types: dict[str, pa.DataType]) -> pa.Schema:
    """The schema of a windows file; key types come from the raw table (string if unknown).

    Names are distinct (ignoring case) by construction: the config refuses any that collide.
    """
    fields = []
    for column in topic.window_columns:
        if column.kind == "key":
            kind = key_types.get(column.name, pa.string())
        elif column.kind == "stat":
            kind = pa.int64() if column.stat == "count" else pa.float64()
        else:
            kind = _TYPES[column.kind]
        fields.append(pa.field(column.name, kind))
    return pa.schema(fields)


def window_bounds(windows: pa.Table, naming: WindowNaming) -> tuple[pa.Array, pa.Array]:
    """Start and end (timestamp[us, UTC]) of each row's window, whatever the profile."""
    start, end = naming.column_of("start"), naming.column_of("end")
    if start and end:
        return (
            windows[start].combine_chunks().cast(TIMESTAMP),
            windows[end].combine_chunks().cast(TIMESTAMP),
        )
    midpoint = windows[naming.column_of("midpoint_s")].combine_chunks()
    half = pc.divide(windows[naming.column_of("size_s")].combine_chunks(), 2.0)

    def micros(seconds: pa.Array) -> pa.Array:
        whole = pc.round(pc.multiply(seconds, 1_000_000.0))
        return pc.cast(whole, pa.int64()).cast(TIMESTAMP)

    return micros(pc.subtract(midpoint, half)), micros(pc.add(midpoint, half))
