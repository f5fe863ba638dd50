"""The rules for every name a pipeline config can hold, in one place.

A name in the config ends up as a Kafka topic, a lake folder, a Parquet column, a DuckDB view or
column, or a Dagster asset key, and each of those has its limits. DuckDB adds two traps that pass
every per-name check: it compares names ignoring case (fields `Speed` and `speed` make every run
fail; topics `x-IoT` and `x-iot` make view `raw_x_IoT` show the other topic), and it turns the
Hive partition folders `year=/month=/day=/hour=` into columns that replace a field of the same
name (hour 23 read back as the folder's 10). Patterns are matched whole (`fullmatch`): a
pattern ending in `$` would also accept `"name\\n"`.

`config-check` and loading the code location both validate through the pydantic models, which
call these functions, so the two can never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

KAFKA_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# Folder names of raw, quarantine and windows hours; DuckDB and pyarrow read them as columns.
HIVE_PARTITION_COLUMNS = ("year", "month", "day", "hour")
# Columns the pipeline adds to every raw row, in the order they are written.
PIPELINE_COLUMNS = ("event_time", "kafka_partition", "kafka_offset", "kafka_timestamp", "is_late")
# A pipeline column whose name a payload field takes is written under this prefix instead.
PIPELINE_PREFIX = "pipeline_"
# Internal columns of the decoder start with this; no configured name may.
INTERNAL_PREFIX = "__"


def check_topic_name(name: str) -> str:
    if not KAFKA_TOPIC.fullmatch(name) or name in {".", ".."}:
        raise ValueError(f"{name!r} is not a valid Kafka topic name ([A-Za-z0-9._-]+)")
    return name


def check_column_name(where: str, name: str) -> str:
    """A name that becomes a column: an identifier, not internal, not a partition column."""
    if not IDENTIFIER.fullmatch(name):
        raise ValueError(f"{where}: {name!r} is not an identifier ([A-Za-z_][A-Za-z0-9_]*)")
    if name.startswith(INTERNAL_PREFIX):
        raise ValueError(f"{where}: names starting with '__' are reserved for the pipeline")
    if name.lower() in HIVE_PARTITION_COLUMNS:
        raise ValueError(
            f"{where}: {name!r} would be shadowed by the Hive partition column of the same name"
            f" ({'/'.join(HIVE_PARTITION_COLUMNS)}); rename the field"
        )
    return name


def same_ignoring_case(names: Iterable[str]) -> list[list[str]]:
    """Groups of distinct names that DuckDB would treat as one (equal ignoring case)."""
    groups: dict[str, list[str]] = {}
    for name in names:
        group = groups.setdefault(name.lower(), [])
        if name not in group:
            group.append(name)
    return [g for g in groups.values() if len(g) > 1]


def first_clash(columns: Iterable[tuple[str, str]]) -> str | None:
    """For (column, where it comes from) pairs, a message naming both sources of one column.

    Columns are compared ignoring case, as DuckDB compares them. None when all are distinct.
    """
    seen: dict[str, tuple[str, str]] = {}
    for column, where in columns:
        first, first_where = seen.setdefault(column.lower(), (column, where))
        if (first, first_where) != (column, where):
            same = repr(column) if first == column else f"{first!r}/{column!r} (case ignored)"
            return f"{first_where} and {where} both make column {same}"
    return None


def takes_pipeline_name(field: str) -> bool:
    """Whether a payload field is named like a pipeline column (ignoring case, as DuckDB)."""
    return field.lower() in PIPELINE_COLUMNS


def pipeline_column_names(fields: Iterable[str]) -> dict[str, str]:
    """Pipeline column -> the name it is written under in raw.

    The pipeline's columns keep their names unless a payload field takes the name; then the
    field keeps its name, and the pipeline column gets PIPELINE_PREFIX.
    """
    taken = {f.lower() for f in fields if takes_pipeline_name(f)}
    return {c: PIPELINE_PREFIX + c if c in taken else c for c in PIPELINE_COLUMNS}


def quote_identifier(name: str) -> str:
    """A DuckDB identifier in double quotes, inner quotes doubled: safe for any column name."""
    return '"' + name.replace('"', '""') + '"'
