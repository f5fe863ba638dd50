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
def _template(name: str) -> str:
    return (_SQL_DIR / f"{name}.sql").read_text()


def render(name: str, signals: list[str], **fragments: str) -> str:
    """The text of `<name>.sql` with `{fragment}` markers replaced by rendered identifiers;
    `{samples}` is the shared CTE over the source (samples.sql) for `signals`."""
    samples = _template("samples").format(signal_columns=signal_columns(signals))
    return _template(name).format(samples=samples, **fragments)


def signal_columns(signals: list[str]) -> str:
    """SELECT items copying each signal as DOUBLE, NaN as NULL."""
    items = []
    for name in signals:
        col = f"CAST({quote_ident(name)} AS DOUBLE)"
        items.append(f"CASE WHEN isnan({col}) THEN NULL ELSE {col} END AS {quote_ident(name)}")
    return ",\n    ".join(items)


def signal_value(signals: list[str], table: str = "s", index: str = "ms.signal_idx") -> str:
    """A CASE picking column number `index` of `signals` from `table`."""
    whens = " ".join(f"WHEN {i} THEN {table}.{quote_ident(n)}" for i, n in enumerate(signals))
    return f"CASE {index} {whens} END"


def any_present(signals: list[str], table: str = "s") -> str:
    return " OR ".join(f"{table}.{quote_ident(n)} IS NOT NULL" for n in signals)
