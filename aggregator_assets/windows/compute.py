"""Window statistics of a raw hour, as numpy passes over dense integer group ids.

Key columns become integer codes (read straight from Parquet's dictionary pages when the caller
reads them with `raw_read_options`), each (key, window) row a dense group id, rows are laid out
once in group order, and each numeric field gets all its statistics, exact medians included,
from that layout (`group_stats`). Memory is a few arrays of the hour's row count.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aggregator_assets.config.models import TopicConfig
from aggregator_assets.windows.columns import TIMESTAMP, key_columns, output_schema
from aggregator_assets.windows.group_stats import field_stats
from aggregator_assets.windows.groups import group_windows, key_codes, window_codes

_CORES = os.cpu_count() or 1
_OPS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _holds(op: str, value: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda values: _OPS[op](values, value)


def value_fields(topic: TopicConfig) -> list[str]:
    """The numeric fields the statistics read: aggregated ones and those of domain counts."""
    counted = [c.field for c in topic.domain_counts.values()]
    return list(dict.fromkeys([*topic.aggregated_fields, *counted]))


def raw_columns(topic: TopicConfig) -> list[str]:
    """The raw columns the window statistics read (keys, value fields, the event time last)."""
    time_column = topic.pipeline_columns["event_time"]
    return list(dict.fromkeys([*key_columns(topic), *value_fields(topic), time_column]))


def raw_read_options(topic: TopicConfig) -> dict[str, list[str]]:
    """`pq.read_table` options for a raw hour: its columns, string keys as dictionaries.

    Dictionary-read keys skip building millions of strings that would only be re-encoded.
    """
    strings = [k for k in key_columns(topic) if topic.fields[k].type == "string"]
    return {"columns": raw_columns(topic), "read_dictionary": strings}


def empty_raw_table(topic: TopicConfig) -> pa.Table:
    """A 0-row table with the raw columns the statistics need (used by tests and benchmarks)."""
    types = {"float": pa.float64(), "int": pa.int64(), "bool": pa.bool_()}
    fields = [
        pa.field(c, types.get(topic.fields[c].type, pa.string())) for c in raw_columns(topic)[:-1]
    ]
    fields.append(pa.field(topic.pipeline_columns["event_time"], TIMESTAMP))
    return pa.schema(fields).empty_table()


def _float_values(column: pa.ChunkedArray) -> np.ndarray:
    """float64 values with null as NaN (ints are widened, as the output schema says)."""
    # Ints beyond 2**53 round to the nearest float64, as the output's float columns imply.
    return pc.cast(column, pa.float64(), safe=False).to_numpy()


def compute_window_stats(raw: pa.Table, topic: TopicConfig, window_seconds: int) -> pa.Table:
    """One row per (key, epoch-aligned window) with the columns of the topic's naming profile.

    Rows are sorted by the key fields (nulls last), then window_start.

    A 0-row raw table gives a 0-row result with the same schema.
    """
    missing = [c for c in raw_columns(topic) if c not in raw.column_names]
    if missing:
        raise ValueError(f"raw table of {topic.name!r} lacks columns {missing}")
    if int(window_seconds) != window_seconds or window_seconds <= 0:
        raise ValueError(
            f"window size must be a positive whole number of seconds: {window_seconds}"
        )
    key_types = {}
    for key in key_columns(topic):
        kind = raw.schema.field(key).type
        key_types[key] = kind.value_type if pa.types.is_dictionary(kind) else kind
    schema = output_schema(topic, key_types)
    if raw.num_rows == 0:
        return schema.empty_table()

    # pyarrow kernels, numpy sorts and reductions release the GIL: independent steps run on all
    # cores (key codes, the window codes and float casts first, then the fields).
    with ThreadPoolExecutor(max_workers=_CORES) as pool:
        return _compute(raw, topic, int(window_seconds) * 1_000_000, schema, pool)


def _compute(
    raw: pa.Table, topic: TopicConfig, window_us: int, schema: pa.Schema, pool: ThreadPoolExecutor
) -> pa.Table:
    pending_keys = [pool.submit(key_codes, raw[k]) for k in key_columns(topic)]
    pending_values = {f: pool.submit(_float_values, raw[f]) for f in value_fields(topic)}
    windows, first_window, window_count = window_codes(
        raw[topic.pipeline_columns["event_time"]], window_us
    )
    keys = [k.result() for k in pending_keys]
    parts = [(codes, len(dictionary)) for codes, dictionary in keys]
    groups = group_windows([*parts, (windows, window_count)], pool)

    layout, out_rows = groups.layout, groups.rows[groups.output]
    columns: dict[str, pa.Array] = {}
    for key, (codes, dictionary) in zip(key_columns(topic), keys, strict=True):
        columns[key] = dictionary.take(pa.array(codes[out_rows]))
    starts = (first_window + windows[out_rows]) * window_us
    unknown = windows[out_rows] == window_count - 1
    window = {
        "start": pa.array(starts, TIMESTAMP, mask=unknown),
        "end": pa.array(starts + window_us, TIMESTAMP, mask=unknown),
        # Windows are whole seconds, so midpoints are multiples of 0.5 s: exact in float64.
        "midpoint_s": pa.array((starts + window_us // 2) / 1e6, pa.float64(), mask=unknown),
        "size_s": pa.array(np.full(len(starts), window_us / 1e6)),
        "count": pa.array(layout.counts[groups.output]),
    }

    per_field: dict[str, list] = {}
    for column in topic.window_columns:
        if column.kind == "stat":
            per_field.setdefault(column.field, []).append((column.name, column.stat))
        elif column.kind == "domain_count":
            per_field.setdefault(topic.domain_counts[column.name].field, []).append(
                (column.name, column.name)
            )
        elif column.kind != "key":
            columns[column.name] = window[column.kind]

    def field_columns(name: str) -> dict[str, pa.Array]:
        conditions = {
            count_name: _holds(cond.op, float(cond.value))
            for count_name, cond in topic.domain_counts.items()
            if cond.field == name
        }
        stats = field_stats(pending_values[name].result(), layout, conditions)
        arrays: dict[str, pa.Array] = {}  # an alias (avg_F) shares its statistic's array
        for _, stat in per_field[name]:
            if stat not in arrays:
                # NaN means "no value" for statistics; counts are never NaN.
                arrays[stat] = pa.array(stats[stat][groups.output], from_pandas=True)
        return {column: arrays[stat] for column, stat in per_field[name]}

    for field_out in pool.map(field_columns, value_fields(topic)):
        columns.update(field_out)
    return pa.table(columns).select(schema.names).cast(schema)
