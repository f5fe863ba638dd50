"""Hourly window-statistics assets: one per (topic, window size), downstream of the raw hour.

The assets of a topic batch (`assets/topics.py`) share one subsettable op, `windows_<batch>`,
so the automation condition sensor, which requests every hour's due assets in one run, runs
one step per batch rather than one per (topic, window size).

Each asset is thin: it walks the hours of its partition range (a 30-day backfill is one run),
lets `aggregator_assets.windows` compute and write each hour, and reports paths, schema, a plot
and three data checks so a user sees in the UI what landed where and whether it adds up. The
compute modules (Arrow, DuckDB, matplotlib) are imported when a run executes.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    multi_asset,
)

from aggregator_assets.config.models import PipelineConfig, TopicConfig, WindowSpec
from aggregator_assets.partitions import HOUR_KEY_FORMAT, hourly_partitions, hours_between
from aggregator_assets.resources.lake import LakeResource
from aggregator_assets.windows.check_names import CHECK_DESCRIPTIONS

if TYPE_CHECKING:
    import pyarrow as pa

    from aggregator_assets.lake import Lake

MAX_LISTED_PATHS = 24


def window_asset_key(topic: TopicConfig, window: WindowSpec) -> AssetKey:
    return AssetKey(f"windows_{topic.asset_name}_{window.name}")


def window_keys(topic: TopicConfig) -> list[AssetKey]:
    return [window_asset_key(topic, w) for w in topic.windows]


def table_schema(schema: "pa.Schema") -> TableSchema:
    return TableSchema(columns=[TableColumn(f.name, str(f.type)) for f in schema])


def _path_metadata(lake: "Lake", topic: TopicConfig, window: WindowSpec, uris: list[str]) -> dict:
    folder = lake.uri(f"windows/{topic.name}/{window.name}")
    if len(uris) == 1:
        return {"path": MetadataValue.path(uris[0]), "table_path": MetadataValue.path(folder)}
    listed = uris if len(uris) <= MAX_LISTED_PATHS else [uris[0], "...", uris[-1]]
    return {"table_path": MetadataValue.path(folder), "paths": MetadataValue.json(listed)}


def _window_spec(topic: TopicConfig, window: WindowSpec) -> AssetSpec:
    return AssetSpec(
        key=window_asset_key(topic, window),
        group_name=topic.asset_name,
        deps=[AssetKey(f"raw_{topic.asset_name}")],
        kinds={"numpy", "parquet"},
        skippable=True,
        description=(
            f"{window.name} tumbling-window statistics of {topic.name} per "
            f"{', '.join([topic.key_field, *topic.dimensions])}: "
            f"{', '.join(prefix for prefix, _ in topic.naming.stats)} of "
            f"{', '.join(topic.aggregated_fields) or 'no field'}, plus domain counts "
            f"({topic.window_naming} column names)."
        ),
    )


def build_windows(
    context: AssetExecutionContext, lake: "Lake", topic: TopicConfig, window: WindowSpec
) -> MaterializeResult:
    """Compute and write every hour of the run's range for one (topic, window size)."""
    from aggregator_assets.windows import (
        RawHourMissingError,
        build_window_hour,
        markdown_image,
        merge_outcomes,
        plot_windows_png,
    )

    key = window_asset_key(topic, window)
    span = context.partition_time_window
    rows, uris, per_hour, last = 0, [], {}, None
    for hour in hours_between(span.start, span.end):
        try:
            done = build_window_hour(lake, topic, window, hour)
        except RawHourMissingError as exc:
            raise Failure(description=str(exc)) from exc
        rows += done.windows.num_rows
        uris.append(done.uri)
        per_hour[hour.strftime(HOUR_KEY_FORMAT)] = done.checks
        last = done
    assert last is not None, "a partition window always holds at least one hour"
    # One line per asset (per-hour paths are in the metadata): each line is an event row.
    where = uris[0] if len(uris) == 1 else f"{len(uris)} hours, {uris[0]} .. {uris[-1]}"
    context.log.info(f"{key.to_user_string()}: {rows} windows to {where}")
    png = plot_windows_png(
        last.windows, topic.key_field, topic.aggregated_fields, naming=topic.naming
    )
    metadata = {
        "dagster/row_count": rows,
        "dagster/column_schema": table_schema(last.windows.schema),
        "hours": len(uris),
        "raw_rows": sum(o.metadata.get("raw_rows", 0) for h in per_hour.values() for o in h),
        "window_size_s": window.seconds,
        **_path_metadata(lake, topic, window, uris),
    }
    if png:
        label = f"{last.hour:%Y-%m-%d %H}:00 UTC, mean and min-max band"
        metadata["plot"] = MetadataValue.md(f"**{label}**\n\n{markdown_image(png)}")
    checks = [
        AssetCheckResult(asset_key=key, check_name=o.name, passed=o.passed, metadata=o.metadata)
        for o in merge_outcomes(per_hour)
    ]
    return MaterializeResult(asset_key=key, metadata=metadata, check_results=checks)


def windows_batch_asset(
    name: str, topics: Sequence[TopicConfig], config: PipelineConfig
) -> AssetsDefinition:
    """The windows assets of a batch of topics: one subsettable op, `windows_<name>`."""
    pairs = {window_asset_key(t, w): (t, w) for t in topics for w in t.windows}

    @multi_asset(
        name=f"windows_{name}",
        specs=[_window_spec(t, w) for t, w in pairs.values()],
        check_specs=[
            AssetCheckSpec(check, asset=key, description=text)
            for key in pairs
            for check, text in CHECK_DESCRIPTIONS.items()
        ],
        partitions_def=hourly_partitions(config.partitions_start),
        backfill_policy=BackfillPolicy.single_run(),
        can_subset=True,
    )
    def _windows(context: AssetExecutionContext, lake: LakeResource):
        store = lake.get_lake()
        failed: list[str] = []
        for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
            topic, window = pairs[key]
            try:
                yield build_windows(context, store, topic, window)
            except Failure as exc:
                context.log.error(f"{key.to_user_string()}: {exc.description}")
                failed.append(f"{key.to_user_string()}: {exc.description}")
        if failed:
            raise Failure(description="\n".join(failed))

    return _windows


def window_assets(config: PipelineConfig) -> list[AssetsDefinition]:
    """One windows op per topic batch having windows, one asset per (topic, window size)."""
    from aggregator_assets.assets.topics import topic_batches

    return [
        windows_batch_asset(b.name, b.topics, config)
        for b in topic_batches(config)
        if any(t.windows for t in b.topics)
    ]
