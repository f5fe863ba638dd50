"""DuckDB views over the lake: one per raw, quarantine, windows and trip summaries table.

For a local lake the views are persistent `read_parquet` views with absolute paths, so a saved
.duckdb file opens in a notebook and always sees the current files. DuckDB cannot load httpfs
here, so for an S3 lake the tables are pyarrow datasets registered on the connection: those
registrations live as long as the connection, so call `create_lake_views` in each session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from aggregator_assets.config.models import PipelineConfig
from aggregator_assets.config.names import quote_identifier

if TYPE_CHECKING:  # Arrow loads when views are built, not with the code location
    from aggregator_assets.lake import Lake

TRIP_TABLES = ("trip_summaries", "trip_summaries_external")


@dataclass(frozen=True)
class LakeView:
    name: str
    folder: str


def lake_view_specs(config: PipelineConfig) -> list[LakeView]:
    """Every view the lake can offer, whether or not its folder exists yet."""
    views = []
    for topic in config.topics:
        views.append(LakeView(f"raw_{topic.asset_name}", f"raw/{topic.name}"))
        views.append(LakeView(f"quarantine_{topic.asset_name}", f"quarantine/{topic.name}"))
        views += [
            LakeView(f"windows_{topic.asset_name}_{w.name}", f"windows/{topic.name}/{w.name}")
            for w in topic.windows
        ]
    if config.trips is not None:
        views += [LakeView(table, f"trips/{table}") for table in TRIP_TABLES]
    return views


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_lake_views(
    con: duckdb.DuckDBPyConnection, lake: Lake, config: PipelineConfig
) -> dict[str, list[str]]:
    """Create or refresh the views whose folders hold Parquet files; skip the others.

    Returns {"created": [view names], "skipped": [view names without data yet]}. A view whose
    folder has disappeared is dropped so it cannot fail later.
    """
    created, skipped = [], []
    for view in lake_view_specs(config):
        name = quote_identifier(view.name)
        if not lake.list_files(view.folder, suffix=".parquet", recursive=True):
            skipped.append(view.name)
            if not lake.is_s3:
                con.execute(f"DROP VIEW IF EXISTS {name}")
            continue
        if lake.is_s3:
            con.register(view.name, lake.dataset(view.folder))
        else:
            glob = _sql_string(f"{lake.path(view.folder)}/**/*.parquet")
            con.execute(
                f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({glob}, "
                "hive_partitioning = true, union_by_name = true)"
            )
        created.append(view.name)
    from aggregator_assets.live.views import create_live_views  # Arrow: only when views are built

    live, quiet = create_live_views(con, lake, config)
    return {"created": created + live, "skipped": skipped + quiet}
