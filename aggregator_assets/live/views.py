"""DuckDB views of the live tail: `live_<topic>`, `live_quarantine_<topic>`, `recent_<topic>`,
`live_windows_<topic>_<size>`.

`live_<topic>` has the columns of `raw_<topic>` (year/month/day/hour as BIGINT) and holds every
valid landed record not yet in a sealed hour file. The list of live pieces is taken when the
views are created (the live tail refreshes them every round); which of their records are sealed
is decided when the query runs, by an anti-join on (partition, offset) against the sealed files
of the same hours. `recent_<topic>` reads those sealed files once (a materialized CTE) and uses
the same rows for its sealed part and for the anti-join, so no record is in both parts of one
query, whatever hour files are published meanwhile. (On S3 the sealed files are the ones listed
when the views were created: pyarrow datasets, as for `raw_<topic>`.)
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from aggregator_assets.config.models import PipelineConfig, TopicConfig
from aggregator_assets.ingest.landing import Landing
from aggregator_assets.ingest.schema import QUARANTINE_SCHEMA, landing_schema, raw_schema
from aggregator_assets.lake import Lake
from aggregator_assets.live.pieces import LivePiece, live_pieces
from aggregator_assets.live.windows import provisional_file
from aggregator_assets.windows.columns import quote_identifier as q

HIVE = ("year", "month", "day", "hour")
RECENT_HOURS = 24  # recent_<topic>: sealed hours that ended within this many hours
_DUCK_TYPES: dict[pa.DataType, str] = {
    pa.string(): "VARCHAR",
    pa.float64(): "DOUBLE",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.bool_(): "BOOLEAN",
    pa.binary(): "BLOB",
}


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _duck_type(kind: pa.DataType) -> str:
    return "TIMESTAMPTZ" if pa.types.is_timestamp(kind) else _DUCK_TYPES[kind]


def _hour_key(prefix: str = "") -> str:
    """year/month/day/hour as one BIGINT (2026113009), whatever types the hive columns got."""
    y, m, d, h = (f"CAST({prefix}{c} AS BIGINT)" for c in HIVE)
    return f"({y} * 1000000 + {m} * 10000 + {d} * 100 + {h})"


def _hour_start() -> str:
    y, m, d, h = (f"CAST({c} AS BIGINT)" for c in HIVE)
    return f"make_timestamptz({y}, {m}, {d}, {h}, 0, 0.0, 'UTC')"


class _Sources:
    """Where the piece and sealed relations come from: SQL over local files, or pyarrow datasets
    registered on the connection for an S3 lake."""

    def __init__(self, con: duckdb.DuckDBPyConnection, lake: Lake):
        self.con, self.lake = con, lake

    def pieces(self, name: str, pieces: list[LivePiece], schema: pa.Schema) -> str:
        """A relation of the pieces' rows with `__take_from` and the hive columns."""
        if not self.lake.is_s3:
            files = ", ".join(_sql_string(self.lake.path(p.path)) for p in pieces)
            rows = ", ".join(
                f"({_sql_string(self.lake.path(p.path))}, {p.take_from}, {p.hour.year},"
                f" {p.hour.month}, {p.hour.day}, {p.hour.hour})"
                for p in pieces
            )
            return (
                f"(SELECT * EXCLUDE (filename) FROM read_parquet([{files}], filename = true,"
                " hive_partitioning = false)"
                f" JOIN (VALUES {rows}) AS f(filename, __take_from, year, month, day, hour)"
                " USING (filename))"
            )
        extra = [pa.field("__take_from", pa.int64()), *(pa.field(c, pa.int64()) for c in HIVE)]
        dataset = ds.FileSystemDataset.from_paths(
            [self.lake.path(p.path) for p in pieces],
            schema=pa.schema([*schema, *extra]),
            format=ds.ParquetFileFormat(),
            filesystem=self.lake.fs,
            partitions=[
                (ds.field("__take_from") == p.take_from)
                & (ds.field("year") == p.hour.year)
                & (ds.field("month") == p.hour.month)
                & (ds.field("day") == p.hour.day)
                & (ds.field("hour") == p.hour.hour)
                for p in pieces
            ],
        )
        self.con.register(name, dataset)
        return q(name)

    def sealed(self, name: str, folder: str) -> str | None:
        """The sealed hour files of a folder (hive columns included), or None without any."""
        if not self.lake.list_files(folder, suffix=".parquet", recursive=True):
            return None
        if self.lake.is_s3:
            self.con.register(name, self.lake.dataset(folder))
            return q(name)
        glob = _sql_string(f"{self.lake.path(folder)}/**/*.parquet")
        return f"read_parquet({glob}, hive_partitioning = true, union_by_name = true)"


_RECENT = f"{_hour_start()} >= now() - INTERVAL {RECENT_HOURS + 1} HOUR"


def _empty(schema: pa.Schema) -> str:
    """A relation with the table's columns (and BIGINT hive columns) and no row."""
    cols = [f"CAST(NULL AS {_duck_type(f.type)}) AS {q(f.name)}" for f in schema]
    cols += [f"CAST(NULL AS BIGINT) AS {c}" for c in HIVE]
    return f"SELECT {', '.join(cols)} WHERE false"


def _live_select(source: str | None, landing: pa.Schema, raw: pa.Schema, offset: str) -> str:
    """Rows of the live pieces from their take_from on, under the sealed table's names."""
    hive = ", ".join(f"CAST({c} AS BIGINT) AS {c}" for c in HIVE)
    if source is None:  # no live piece
        return _empty(raw)
    cols = ", ".join(f"{q(a.name)} AS {q(b.name)}" for a, b in zip(landing, raw, strict=True))
    return (
        f"SELECT {cols}, {hive} FROM {source}"
        f" WHERE {q(landing.field(raw.get_field_index(offset)).name)} >= __take_from"
    )


def _sealed_select(sealed: str | None, hours: set[int], recent: bool, raw: pa.Schema) -> str:
    """Sealed rows of the live hours (and of the last day when `recent`), hive columns BIGINT."""
    if sealed is None:
        return _empty(raw)
    wanted = [f"{_hour_key()} IN ({', '.join(map(str, sorted(hours)))})"] if hours else []
    if recent:
        wanted.append(_RECENT)
    where = " OR ".join(wanted) or "false"
    hive = ", ".join(f"CAST({c} AS BIGINT) AS {c}" for c in HIVE)
    return f"SELECT * REPLACE ({hive}) FROM {sealed} WHERE {where}"


def _views_of_kind(
    sources: _Sources,
    topic: TopicConfig,
    pieces: list[LivePiece],
    kind: str,
    landing: pa.Schema,
    raw: pa.Schema,
    columns: dict[str, str],
) -> dict[str, str]:
    """SQL of the live view of one kind, and of the recent view for raw."""
    base = topic.asset_name
    mine = [p for p in pieces if p.kind == kind]
    hours = {int(f"{p.hour:%Y%m%d%H}") for p in mine}
    source = sources.pieces(f"__live_pieces_{kind}_{base}", mine, landing) if mine else None
    sealed = sources.sealed(f"__sealed_{kind}_{base}", f"{kind}/{topic.name}")
    offset, partition = columns["kafka_offset"], columns["kafka_partition"]
    live = _live_select(source, landing, raw, offset)
    anti = f"ANTI JOIN sealed USING ({q(partition)}, {q(offset)})"
    name = f"live_{base}" if kind == "raw" else f"live_quarantine_{base}"
    views = {
        name: f"WITH sealed AS ({_sealed_select(sealed, hours, False, raw)}),"
        f" live AS ({live}) SELECT live.* FROM live {anti}"
    }
    if kind == "raw":
        views[f"recent_{base}"] = (
            f"WITH sealed AS MATERIALIZED ({_sealed_select(sealed, hours, True, raw)}),"
            f" live AS ({live})"
            f" SELECT * FROM sealed WHERE {_RECENT}"
            f" UNION ALL BY NAME SELECT live.* FROM live {anti}"
        )
    return views


def live_view_sql(con: duckdb.DuckDBPyConnection, lake: Lake, topic: TopicConfig) -> dict[str, str]:
    """View name -> SELECT of the live views of one topic (registering S3 datasets on `con`)."""
    landing = Landing(lake, topic.name)
    cover = landing.cover()
    if not cover.ends:  # nothing landed yet: no view, as for a table folder without data
        return {}
    pieces = live_pieces(lake, landing, cover, topic.name)
    sources = _Sources(con, lake)
    quarantine_columns = {"kafka_offset": "kafka_offset", "kafka_partition": "kafka_partition"}
    views = _views_of_kind(
        sources,
        topic,
        pieces,
        "raw",
        landing_schema(topic),
        raw_schema(topic),
        topic.pipeline_columns,
    )
    views |= _views_of_kind(
        sources,
        topic,
        pieces,
        "quarantine",
        QUARANTINE_SCHEMA,
        QUARANTINE_SCHEMA,
        quarantine_columns,
    )
    for window in topic.windows:
        path, name = (
            provisional_file(topic, window),
            f"live_windows_{topic.asset_name}_{window.name}",
        )
        if not lake.exists(path):
            continue
        if lake.is_s3:
            con.register(f"__{name}", lake.dataset(path))
            views[name] = f"SELECT * FROM {q(f'__{name}')}"
        else:
            views[name] = f"SELECT * FROM read_parquet({_sql_string(lake.path(path))})"
    return views


def live_view_names(topic: TopicConfig) -> list[str]:
    base = topic.asset_name
    names = [f"live_{base}", f"recent_{base}", f"live_quarantine_{base}"]
    return names + [f"live_windows_{base}_{w.name}" for w in topic.windows]


def create_live_views(
    con: duckdb.DuckDBPyConnection, lake: Lake, config: PipelineConfig
) -> tuple[list[str], list[str]]:
    """Create or replace every topic's live views; returns (created, skipped without data).

    A view skipped now is dropped from a local database, so it cannot fail later."""
    created, skipped = [], []
    for topic in config.topics:
        views = live_view_sql(con, lake, topic)
        for name, select in views.items():
            con.execute(f"CREATE OR REPLACE VIEW {q(name)} AS {select}")
            created.append(name)
        for name in live_view_names(topic):
            if name not in views:
                skipped.append(name)
                if not lake.is_s3:
                    con.execute(f"DROP VIEW IF EXISTS {q(name)}")
    return created, skipped
