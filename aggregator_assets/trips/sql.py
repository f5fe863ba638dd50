"""Load the .sql files beside this module and render the only things SQL cannot bind.

Values always travel as `$named` parameters. Column names cannot be parameters, so the few
fragments that name signal columns are rendered here from identifiers quoted by
`quote_ident`; device ids and other record values never reach SQL text.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_SQL_DIR = Path(__file__).parent


def quote_ident(name: str) -> str:
    """A DuckDB identifier for any column name: '"Speed"', 'a"b' -> '"a""b"'."""
    return '"' + name.replace('"', '""') + '"'


@cache
def template(name: str) -> str:
    """The text of `<name>.sql` beside this module."""
    return (_SQL_DIR / f"{name}.sql").read_text()


def render(
    name: str,
    signals: list[str],
    source: str = "source_registered",
    absent: frozenset[str] = frozenset(),
    **fragments: str,
) -> str:
    """The text of `<name>.sql` with `{fragment}` markers replaced by rendered identifiers;
    `{samples}` is the shared CTE (samples.sql) over the `source` CTE (`<source>.sql`) for
    `signals`, of which those in `absent` are missing from the source and read as NULL."""
    samples = template("samples").format(
        source_rows=template(source).strip(), signal_columns=signal_columns(signals, absent)
    )
    return template(name).format(samples=samples, **fragments)


def signal_columns(signals: list[str], absent: frozenset[str] = frozenset()) -> str:
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
        col = f"CAST({quote_ident(name)} AS DOUBLE)"
        items.append(
            f"CASE WHEN isfinite({col}) OR isinf({col}) THEN {col} END AS {quote_ident(name)}"
        )
    return ",\n    ".join(items)


def signal_value(signals: list[str], table: str = "s", index: str = "ms.signal_idx") -> str:
    """A CASE picking column number `index` of `signals` from `table`."""
    whens = " ".join(f"WHEN {i} THEN {table}.{quote_ident(n)}" for i, n in enumerate(signals))
    return f"CASE {index} {whens} END"


def any_present(signals: list[str], table: str = "s") -> str:
    return " OR ".join(f"{table}.{quote_ident(n)} IS NOT NULL" for n in signals)
