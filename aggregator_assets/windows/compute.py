"""Window statistics of a raw hour, computed by DuckDB over the Arrow table pyarrow read.

DuckDB scans the Arrow table in place (no copy, no per-row Python), so the same code serves a
local and an S3 lake: pyarrow does the IO, DuckDB only the arithmetic.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from aggregator_assets.config.models import TopicConfig
from aggregator_assets.windows.columns import (
    ALIASES,
    key_columns,
    output_schema,
    quote_identifier,
    stat_column,
)

_SQL_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "=", "!=": "<>"}
_AGGREGATES = {
    "count": "count({v})",
    "min": "min({v})",
    "max": "max({v})",
    "mean": "avg({v})",
    "stddev": "stddev_samp({v})",
    "sum": "sum({v})",
}


@cache
def _template() -> str:
    return Path(__file__).with_name("window_stats.sql").read_text()


def raw_columns(topic: TopicConfig) -> list[str]:
    """The raw columns the window query reads (keys, numeric fields, event_time)."""
    return list(dict.fromkeys([*key_columns(topic), *topic.numeric_fields, "event_time"]))


def window_stats_sql(topic: TopicConfig) -> tuple[str, dict[str, float]]:
    """The query for a topic and its threshold parameters (`$window_us` is added by the caller).

    The query sees positional aliases only (key codes `k0`.., numeric fields `v0`..), so no
    user-chosen name is ever parsed as SQL; output names are quoted identifiers.
    """
    numeric = topic.numeric_fields
    alias = {name: f"v{i}" for i, name in enumerate(numeric)}
    cleaned = [f"CASE WHEN isnan({a}) THEN NULL ELSE {a} END AS {a}" for a in alias.values()]
    aggregates = [
        f"{_AGGREGATES[stat].format(v=alias[n])} AS {quote_identifier(stat_column(stat, n))}"
        for n in numeric
        for stat in _AGGREGATES
    ]
    medians = [
        f"median({alias[n]}) AS {quote_identifier(stat_column('median', n))}" for n in numeric
    ]
    params: dict[str, float] = {}
    for i, (name, cond) in enumerate(topic.domain_counts.items()):
        if cond.field not in alias:
            raise ValueError(f"domain_counts.{name}: {cond.field!r} is not a numeric field")
        params[f"threshold_{i}"] = float(cond.value)
        aggregates.append(
            f"count(*) FILTER (WHERE {alias[cond.field]} {_SQL_OPS[cond.op]} $threshold_{i})"
            f" AS {quote_identifier(name)}"
        )
    sql = _template().format(
        key_codes=", ".join(f"k{i}" for i in range(len(key_columns(topic)))),
        cleaned_values=",\n        ".join(cleaned),
        aggregates=",\n        ".join(aggregates),
        medians=",\n        ".join(medians),
    )
    return sql, params


def _encode(raw: pa.Table, topic: TopicConfig) -> tuple[pa.Table, list[pa.Array]]:
    """Replace key columns by integer codes (Arrow dictionary encoding, vectorised).

    DuckDB groups integers several times faster than strings, which matters most for the holistic
    median. Nulls stay null codes, so a null key is still its own group.
    """
    columns, dictionaries = {}, []
    for i, key in enumerate(key_columns(topic)):
        encoded = pc.dictionary_encode(raw[key].combine_chunks())
        null_code = len(encoded.dictionary)
        columns[f"k{i}"] = pc.fill_null(encoded.indices, pa.scalar(null_code, pa.int32()))
        dictionaries.append(pa.concat_arrays([encoded.dictionary, pa.nulls(1, raw[key].type)]))
    for i, name in enumerate(topic.numeric_fields):
        columns[f"v{i}"] = pc.cast(raw[name], pa.float64())
    columns["event_time"] = raw["event_time"]
    return pa.table(columns), dictionaries


def empty_raw_table(topic: TopicConfig) -> pa.Table:
    """A 0-row table with the raw columns the query needs (used by tests and benchmarks)."""
    types = {"float": pa.float64(), "int": pa.int64(), "bool": pa.bool_()}
    fields = [
        pa.field(c, types.get(topic.fields[c].type, pa.string())) for c in raw_columns(topic)[:-1]
    ]
    fields.append(pa.field("event_time", pa.timestamp("us", tz="UTC")))
    return pa.schema(fields).empty_table()


def compute_window_stats(
    raw: pa.Table, topic: TopicConfig, window_seconds: int, threads: int | None = None
) -> pa.Table:
    """One row per (key, epoch-aligned window) with the columns of `columns.output_schema`.

    A 0-row raw table gives a 0-row result with the same schema.
    """
    missing = [c for c in raw_columns(topic) if c not in raw.column_names]
    if missing:
        raise ValueError(f"raw table of {topic.name!r} lacks columns {missing}")
    if int(window_seconds) != window_seconds or window_seconds <= 0:
        raise ValueError(
            f"window size must be a positive whole number of seconds: {window_seconds}"
        )
    encoded, dictionaries = _encode(raw, topic)
    sql, params = window_stats_sql(topic)
    params["window_us"] = int(window_seconds) * 1_000_000
    with duckdb.connect() as con:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        con.register("raw", encoded)
        result = con.sql(sql, params=params).to_arrow_table()
    for i, (key, dictionary) in enumerate(zip(key_columns(topic), dictionaries, strict=True)):
        result = result.append_column(key, dictionary.take(result[f"k{i}"]))
    for alias, stat in ALIASES.items():
        for name in topic.numeric_fields:
            result = result.append_column(
                stat_column(alias, name), result.column(stat_column(stat, name))
            )
    schema = output_schema(topic, {k: raw.schema.field(k).type for k in key_columns(topic)})
    order = [(k, "ascending", "at_end") for k in [*key_columns(topic), "window_start"]]
    return result.select(schema.names).cast(schema).sort_by(order)
