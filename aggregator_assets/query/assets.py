"""The `lake_views` asset: refreshes DuckDB views over the lake so analysts can query it by name.

For a local lake the database file is rebuilt beside itself and moved over the old one, so a
notebook holding it open (DuckDB lets no writer in while a reader holds the file) never blocks
the refresh: open connections keep reading the old file, whose views see the same Parquet
folders, and new connections get the new one. The file holds only the views; keep your own
tables in another database (`ATTACH`).
"""

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb as duckdb_client
from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, asset
from dagster import MetadataValue as MV
from dagster_duckdb import DuckDBResource

from aggregator_assets.config.models import PipelineConfig
from aggregator_assets.query.views import create_lake_views, lake_view_specs
from aggregator_assets.resources.lake import LakeResource

if TYPE_CHECKING:  # Arrow loads when the views are built, not with the code location
    from aggregator_assets.lake import Lake

EXAMPLES_SQL = Path(__file__).with_name("examples.sql")


def table_assets(config: PipelineConfig) -> list[AssetKey]:
    """The assets whose tables get a view (a view is named like its asset; quarantine tables
    are written by their raw asset)."""
    return [
        AssetKey(v.name) for v in lake_view_specs(config) if not v.name.startswith("quarantine_")
    ]


def rebuild_database(database: str, store: "Lake", config: PipelineConfig) -> dict[str, list[str]]:
    """Create the views in a new file next to `database`, then move it into place."""
    target = Path(database)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with duckdb_client.connect(str(staged)) as con:
            result = create_lake_views(con, store, config)
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)
    return result


def query_assets(config: PipelineConfig) -> list[AssetsDefinition]:
    """The query group: one non-partitioned asset that (re)creates the lake's DuckDB views."""

    @asset(
        name="lake_views",
        group_name="query",
        deps=table_assets(config),
        kinds={"duckdb"},
        description=(
            "DuckDB views raw_*, quarantine_*, windows_*_<size> and trip_summaries* over the "
            "lake, refreshed when a table gains a partition, plus the live tail's live_*, "
            "recent_* and live_windows_* (refreshed by live_tail). Open the `duckdb` database and "
            "query them by name; folders without data yet get their view at the next refresh."
        ),
    )
    def lake_views(
        context: AssetExecutionContext, lake: LakeResource, duckdb: DuckDBResource
    ) -> MaterializeResult:
        store = lake.get_lake()
        if store.is_s3:
            with duckdb.get_connection() as con:
                result = create_lake_views(con, store, config)
            note = (
                "S3 lake: views are pyarrow datasets registered per connection; in a notebook "
                "call `aggregator_assets.query.create_lake_views(con, lake, config)`."
            )
        else:
            result = rebuild_database(duckdb.database, store, config)
            note = "Persistent views: open the database file in any DuckDB client."
        context.log.info(f"views created: {result['created']}; skipped: {result['skipped']}")
        return MaterializeResult(
            metadata={
                "database": MV.path(duckdb.database),
                "lake": MV.path(store.uri("")),
                "views": MV.json(result["created"]),
                "skipped_without_data": MV.json(result["skipped"]),
                "dagster/row_count": len(result["created"]),
                "how_to_query": MV.md(note),
                "example_sql": MV.md(f"```sql\n{EXAMPLES_SQL.read_text()}```"),
            }
        )

    return [lake_views]
