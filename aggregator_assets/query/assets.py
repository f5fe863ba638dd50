"""The `lake_views` asset: refreshes DuckDB views over the lake so analysts can query it by name."""

from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, asset
from dagster import MetadataValue as MV
from dagster_duckdb import DuckDBResource

from aggregator_assets.config.models import PipelineConfig
from aggregator_assets.query.views import create_lake_views, lake_view_specs
from aggregator_assets.resources.lake import LakeResource

EXAMPLES_SQL = Path(__file__).with_name("examples.sql")


def query_assets(config: PipelineConfig) -> list[AssetsDefinition]:
    """The query group: one non-partitioned asset that (re)creates the lake's DuckDB views."""
    upstream = [AssetKey(v.name) for v in lake_view_specs(config) if v.name.startswith("windows_")]
    upstream += [AssetKey(f"raw_{t.asset_name}") for t in config.topics]

    @asset(
        name="lake_views",
        group_name="query",
        deps=upstream,
        kinds={"duckdb"},
        description=(
            "DuckDB views raw_*, quarantine_*, windows_*_<size> and trip_summaries over the "
            "lake. Open the `duckdb` database and query them by name; folders without data "
            "yet are skipped until the next refresh."
        ),
    )
    def lake_views(
        context: AssetExecutionContext, lake: LakeResource, duckdb: DuckDBResource
    ) -> MaterializeResult:
        store = lake.get_lake()
        with duckdb.get_connection() as con:
            result = create_lake_views(con, store, config)
        context.log.info(f"views created: {result['created']}; skipped: {result['skipped']}")
        note = (
            "S3 lake: views are pyarrow datasets registered per connection; in a notebook call "
            "`aggregator_assets.query.create_lake_views(con, lake, config)`."
            if store.is_s3
            else "Persistent views: open the database file in any DuckDB client."
        )
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
