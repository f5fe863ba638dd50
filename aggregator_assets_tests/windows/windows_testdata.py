"""Raw hours in the raw schema of CONTRACTS.md, generated for any topic, plus a pandas oracle."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from aggregator_assets.config.models import TopicConfig

PYARROW_TYPES = {
    "string": pa.string(),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "json": pa.string(),
}


def make_raw_hour(
    topic: TopicConfig, hour: datetime, rows: int, devices: int = 5, seed: int = 0
) -> pa.Table:
    """Random rows of one hour: NaN and null in float fields, null in ints and dimensions."""
    rng = np.random.default_rng(seed)
    start_us = int(hour.timestamp() * 1_000_000)
    offsets = np.sort(rng.integers(0, 3_600_000_000, rows))
    device = rng.integers(0, devices, rows)
    columns: dict[str, pa.Array] = {}
    for name, spec in topic.fields.items():
        if name == topic.key_field:
            columns[name] = pa.array([f"dev-{d:03d}" for d in device], pa.string())
        elif name in topic.dimensions:
            values = np.array([f"{name}-{d % 2}" for d in device], dtype=object)
            values[rng.random(rows) < 0.05] = None
            columns[name] = pa.array(values, pa.string())
        elif spec.type == "float":
            values = rng.normal(50, 20, rows) + device
            values[rng.random(rows) < 0.05] = np.nan
            columns[name] = pa.array(values, pa.float64(), mask=rng.random(rows) < 0.05)
        elif spec.type == "int":
            values = rng.integers(-120, 100, rows)
            columns[name] = pa.array(values, pa.int64(), mask=rng.random(rows) < 0.05)
        else:
            columns[name] = pa.array([f"{name}-{i}" for i in range(rows)], PYARROW_TYPES[spec.type])
    for name in topic.flags:
        columns[name] = pa.array(rng.random(rows) < 0.5)
    columns["event_time"] = pa.array(start_us + offsets, pa.int64()).cast(
        pa.timestamp("us", tz="UTC")
    )
    columns["kafka_partition"] = pa.array(device % 3, pa.int32())
    columns["kafka_offset"] = pa.array(np.arange(rows), pa.int64())
    columns["kafka_timestamp"] = pa.array((start_us + offsets) // 1000, pa.int64()).cast(
        pa.timestamp("ms", tz="UTC")
    )
    columns["is_late"] = pa.array(np.zeros(rows, dtype=bool))
    return pa.table(columns)


def pandas_window_stats(raw: pa.Table, topic: TopicConfig, window_seconds: int) -> pd.DataFrame:
    """An independent pandas computation of the documented statistics (NaN counts as missing),
    named as the topic's naming profile says (`TopicConfig.window_columns`)."""
    keys = list(dict.fromkeys([topic.key_field, *topic.dimensions]))
    df = raw.to_pandas()
    df["window_start"] = df[topic.pipeline_columns["event_time"]].dt.floor(f"{window_seconds}s")
    for name in topic.numeric_fields:
        df[name] = df[name].astype("float64")
    grouped = df.groupby([*keys, "window_start"], dropna=False, sort=True)
    out = grouped.size().rename("rows").to_frame()
    stats = {
        "count": lambda c: c.count(),
        "min": lambda c: c.min(),
        "max": lambda c: c.max(),
        "mean": lambda c: c.mean(),
        "median": lambda c: c.median(),
        "stddev": lambda c: c.std(ddof=1),
        "sum": lambda c: c.sum(min_count=1),
    }
    ops = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
    by = [*keys, "window_start"]
    for column in topic.window_columns:
        if column.kind == "stat":
            out[column.name] = stats[column.stat](grouped[column.field])
        elif column.kind == "domain_count":
            cond = topic.domain_counts[column.name]
            hits = getattr(df[cond.field], ops[cond.op])(cond.value)
            out[column.name] = hits.groupby([df[k] for k in by], dropna=False).sum()
    out = out.reset_index()
    size = pd.Timedelta(seconds=window_seconds)
    epoch = pd.Timestamp(0, tz="UTC")
    derived = {
        "start": out["window_start"],
        "end": out["window_start"] + size,
        "midpoint_s": (out["window_start"] + size / 2 - epoch) / pd.Timedelta(seconds=1),
        "size_s": pd.Series(float(window_seconds), index=out.index),
        "count": out["rows"],
    }
    for column in topic.window_columns:
        if column.kind in derived:
            out[column.name] = derived[column.kind]
    return out[[c.name for c in topic.window_columns]]


def materializations(result, key: str) -> list:
    """The materializations of one asset in a run's result (`asset_materializations_for_node`
    takes an op, and the windows assets of a topic batch share one)."""
    return [
        e.event_specific_data.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == key
    ]
