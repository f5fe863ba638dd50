"""Load the .sql files beside this module and render the only things SQL cannot bind.

Values always travel as `$named` parameters. Column names cannot be parameters, so the few
fragments that name signal columns are rendered here from identifiers quoted by
`quote_ident`, and so is the conversion of each part's time column, which depends on its type;
device ids and other record values never reach SQL text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyarrow as pa

_SQL_DIR = Path(__file__).parent
_PARAMETER_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def quote_ident(name: str) -> str:
    """A DuckDB identifier for any column name: '"Speed"', 'a"b' -> '"a""b"'."""
    return '"' + name.replace('"', '""') + '"'


@cache
def template(name: str) -> str:
    """The text of `<name>.sql` beside this module."""
    return (_SQL_DIR / f"{name}.sql").read_text()


@dataclass(frozen=True)
class PartSql:
    """How the queries read one part of a source: its reader template (source_files,
    source_labelled_files or source_registered), time column and type, and its columns."""

    reader: str
    time_column: str
    time_type: pa.DataType
    columns: frozenset[str]
    one_message: bool = False  # the message is the parameter $message_<i>, not a column


def parameters(text: str, values: dict) -> dict:
    """The named parameters `text` uses, from `values` (DuckDB refuses unused ones)."""
    names = set(_PARAMETER_RE.findall(text))
    return {name: value for name, value in values.items() if name in names}


def render(name: str, parts: str, **fragments: str) -> str:
    """The text of `<name>.sql` with `{samples}` replaced by the shared CTE (samples.sql) over
    the rendered `parts` (`source_rows`) and other `{fragment}` markers by `fragments`."""
    return template(name).format(samples=template("samples").format(parts=parts), **fragments)


def source_rows(parts: Sequence[PartSql], signals: list[str]) -> str:
    """The parts of a source stacked with UNION ALL, each in the columns of source_part.sql."""
    if not parts:
        return template("source_empty").format(signal_columns=signal_columns(signals, signals))
    selects = []
    for i, part in enumerate(parts):
        labelled = part.reader == "source_labelled_files"
        t_filter, t = epoch_seconds(f"p.{quote_ident(part.time_column)}", part.time_type)
        absent = [name for name in signals if name not in part.columns]
        message = f"$message_{i}" if part.one_message else "p.message"
        selects.append(
            template("source_part").format(
                device_id="l.device_id" if labelled else "p.device_id",
                message="l.message" if labelled and not part.one_message else message,
                t=t,
                t_filter=t_filter,
                signal_columns=signal_columns(signals, absent, table="p"),
                reader=template(part.reader).format(i=i).strip(),
            )
        )
    return "\nUNION ALL\n".join(selects)


def epoch_seconds(column: str, time_type: pa.DataType) -> tuple[str, str]:
    """(expression to filter on, expression to select): `column` of `time_type` in epoch
    seconds as DOUBLE. Timestamps without a zone are UTC. Nanoseconds are split at the
    microsecond so that a value on a whole microsecond gives the same double as a microsecond
    timestamp. A float's NaN becomes NULL by "neither finite nor infinite", the test DuckDB 2.x
    cannot fold away from Parquet statistics (see `signal_columns`); the filter expression leaves
    it out so the window still prunes row groups, and the NULL then fails the window test."""
    if pa.types.is_timestamp(time_type) and time_type.unit == "ns":
        seconds = f"(epoch_ns({column}) // 1000) / 1e6 + (epoch_ns({column}) % 1000) / 1e9"
        return seconds, seconds
    if pa.types.is_timestamp(time_type):
        seconds = f"epoch_us({column}) / 1e6"
        return seconds, seconds
    seconds = f"CAST({column} AS DOUBLE)"
    if pa.types.is_floating(time_type):
        return seconds, f"CASE WHEN isfinite({seconds}) OR isinf({seconds}) THEN {seconds} END"
    return seconds, seconds


def signal_columns(signals: list[str], absent: Sequence[str] = (), table: str = "") -> str:
    """SELECT items copying each signal as DOUBLE, NaN as NULL; NULL for an absent one.

    NaN is tested as "neither finite nor infinite", not with `isnan`: DuckDB 2.x folds `isnan(x)`,
    `x <> x` and `x = 'nan'` to false from Parquet min/max statistics, which never count NaN, so
    NaN readings would be aggregated as values (`test_sql_nan.py` pins this on the installed
    DuckDB)."""
    items = []
    for name in signals:
        if name in absent:
            items.append(f"CAST(NULL AS DOUBLE) AS {quote_ident(name)}")
            continue
        col = f"CAST({table + '.' if table else ''}{quote_ident(name)} AS DOUBLE)"
        items.append(
            f"CASE WHEN isfinite({col}) OR isinf({col}) THEN {col} END AS {quote_ident(name)}"
        )
    return ",\n    ".join(items)


# Each aggregation over a signal column {x} of the joined samples (time `t`), in stats.
_AGGREGATES = {
    "avg": "avg({x})",
    "max": "max({x})",
    "min": "min({x})",
    "sum": "sum({x})",
    "median": "median({x})",
    "stdev": "stddev_samp({x})",
    "first": "arg_min({x}, t) FILTER (WHERE {x} IS NOT NULL)",
    "last": "arg_max({x}, t) FILTER (WHERE {x} IS NOT NULL)",
}


def signal_stats(signals: list[str], wanted: dict[str, set[str]]) -> str:
    """The aggregate columns of summaries.sql's stats: `n_<i>` (the count of signal number i)
    for every signal, `<aggregation>_<i>` for the aggregations `wanted` of it."""
    items = []
    for i, name in enumerate(signals):
        x = quote_ident(name)
        items.append(f"count({x}) AS n_{i}")
        items += [
            f"{_AGGREGATES[agg].format(x=x)} AS {agg}_{i}"
            for agg in sorted(wanted.get(name, set()) & _AGGREGATES.keys())
        ]
    return ",\n        ".join(items)


def stat_value(signals: list[str], wanted: dict[str, set[str]]) -> str:
    """A CASE picking the stats column of the spec's signal (sp.signal_idx) and aggregation.
    A count of nothing is 0; so is a sum in legacy mode (pandas)."""
    whens = []
    for i, name in enumerate(signals):
        for agg in sorted(wanted.get(name, set())):
            column = {
                "count": f"coalesce(st.n_{i}, 0)",
                "sum": f"CASE WHEN $legacy THEN coalesce(st.sum_{i}, 0) ELSE st.sum_{i} END",
            }.get(agg, f"st.{agg}_{i}")
            whens.append(f"WHEN sp.signal_idx = {i} AND sp.aggregation = '{agg}' THEN {column}")
    return "CASE " + "\n        ".join(whens) + " END" if whens else "NULL"


def stat_count(signals: list[str]) -> str:
    """A CASE picking the count of the spec's signal (sp.signal_idx) from stats."""
    whens = " ".join(f"WHEN {i} THEN st.n_{i}" for i in range(len(signals)))
    return f"CASE sp.signal_idx {whens} END"


def trip_bins(identifier_present: str) -> str:
    """The identifier and bins CTEs both trip queries start from (trip_bins.sql), counting the
    identifier samples for which `identifier_present` holds."""
    return template("trip_bins").format(identifier_present=identifier_present).strip()


def any_present(signals: list[str], table: str = "s") -> str:
    return " OR ".join(f"{table}.{quote_ident(n)} IS NOT NULL" for n in signals)
