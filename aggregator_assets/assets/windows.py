"""Hourly window-statistics assets: one per (topic, window size), downstream of the raw hour.

Each asset is thin: it walks the hours of its partition range (a 30-day backfill is one run),
lets `aggregator_assets.windows` compute and write each hour, and reports paths, schema, a plot
and three data checks so a user sees in the UI what landed where and whether it adds up.
"""

from datetime import datetime

import pyarrow as pa
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    asset,
)

from aggregator_assets.config.models import PipelineConfig, TopicConfig, WindowSpec
from aggregator_assets.lake import Lake
from aggregator_assets.partitions import HOUR_KEY_FORMAT, hourly_partitions, hours_between
from aggregator_assets.resources.lake import LakeResource
from aggregator_assets.windows import (
    RawHourMissingError,
    build_window_hour,
    markdown_image,
    merge_outcomes,
    plot_windows_png,
)
from aggregator_assets.windows.checks import CHECK_DESCRIPTIONS

MAX_LISTED_PATHS = 24


def window_asset_key(topic: TopicConfig, window: WindowSpec) -> AssetKey:
    return AssetKey(f"windows_{topic.asset_name}_{window.name}")


def table_schema(schema: pa.Schema) -> TableSchema:
    return TableSchema(columns=[TableColumn(f.name, str(f.type)) for f in schema])


def _path_metadata(lake: Lake, topic: TopicConfig, window: WindowSpec, uris: list[str]) -> dict:
    folder = lake.uri(f"windows/{topic.name}/{window.name}")
    if len(uris) == 1:
        return {"path": MetadataValue.path(uris[0]), "table_path": MetadataValue.path(folder)}
    listed = uris if len(uris) <= MAX_LISTED_PATHS else [uris[0], "...", uris[-1]]
    return {"table_path": MetadataValue.path(folder), "paths": MetadataValue.json(listed)}


def _window_asset(
    topic: TopicConfig, window: WindowSpec, partitions_start: datetime
) -> AssetsDefinition:
    key = window_asset_key(topic, window)
    check_specs = [
        AssetCheckSpec(name, asset=key, description=text)
        for name, text in CHECK_DESCRIPTIONS.items()
    ]

    @asset(
        key=key,
        group_name=topic.asset_name,
        deps=[AssetKey(f"raw_{topic.asset_name}")],
        partitions_def=hourly_partitions(partitions_start),
        backfill_policy=BackfillPolicy.single_run(),
        kinds={"numpy", "parquet"},
        check_specs=check_specs,
        description=(
            f"{window.name} tumbling-window statistics of {topic.name} per "
            f"{', '.join([topic.key_field, *topic.dimensions])}: "
            f"{', '.join(prefix for prefix, _ in topic.naming.stats)} of "
            f"{', '.join(topic.aggregated_fields) or 'no field'}, plus domain counts "
            f"({topic.window_naming} column names)."
        ),
    )
    def _windows(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
        store = lake.get_lake()
        span = context.partition_time_window
        rows, uris, per_hour, last = 0, [], {}, None
        for hour in hours_between(span.start, span.end):
            try:
                done = build_window_hour(store, topic, window, hour)
            except RawHourMissingError as exc:
                raise Failure(description=str(exc)) from exc
            context.log.info(f"{hour:%Y-%m-%d %H}:00: {done.raw_rows} raw rows -> {done.uri}")
            rows += done.windows.num_rows
            uris.append(done.uri)
            per_hour[hour.strftime(HOUR_KEY_FORMAT)] = done.checks
            last = done
        assert last is not None, "a partition window always holds at least one hour"
        png = plot_windows_png(
            last.windows, topic.key_field, topic.aggregated_fields, naming=topic.naming
        )
        metadata = {
            "dagster/row_count": rows,
            "dagster/column_schema": table_schema(last.windows.schema),
            "hours": len(uris),
            "raw_rows": sum(o.metadata.get("raw_rows", 0) for h in per_hour.values() for o in h),
            "window_size_s": window.seconds,
            **_path_metadata(store, topic, window, uris),
        }
        if png:
            label = f"{last.hour:%Y-%m-%d %H}:00 UTC, mean and min-max band"
            metadata["plot"] = MetadataValue.md(f"**{label}**\n\n{markdown_image(png)}")
        checks = [
            AssetCheckResult(check_name=o.name, passed=o.passed, metadata=o.metadata)
            for o in merge_outcomes(per_hour)
        ]
        return MaterializeResult(metadata=metadata, check_results=checks)

    return _windows


def window_assets(config: PipelineConfig) -> list[AssetsDefinition]:
    """One hourly windows asset per (topic, window size) in the config."""
    start = config.partitions_start
    return [_window_asset(t, w, start) for t in config.topics for w in t.windows]
