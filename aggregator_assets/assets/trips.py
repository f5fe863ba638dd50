"""Daily per-trip summaries of vehicle data (issue #4).

Two daily assets share one transform (`aggregator_assets.trips`): `trip_summaries` reads the
vehicle topic's raw hours, `trip_summaries_external` reads an existing lake laid out as
`<root>/<device_id>/<message>/YYYY/MM/DD/*.parquet` (the `vehicle_data_lake` external asset).
A trip belongs to the UTC day it starts: each day also reads `max_gap` before midnight (to skip
trips that started the day before) and `lookahead` after the next midnight (to finish trips
crossing it); in legacy mode a day reads only itself, as the script does. Output:
`trips/<asset>/year=YYYY/month=MM/day=DD/part-0.parquet`, and with `legacy_output` also the
script's own file in the vehicle lake (`aggregator_assets.trips.legacy`).
"""

import posixpath
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    TimeWindowPartitionMapping,
    asset,
)

from aggregator_assets.config import PipelineConfig
from aggregator_assets.lake import day_path
from aggregator_assets.partitions import daily_partitions
from aggregator_assets.resources.lake import LakeResource
from aggregator_assets.trips import TripsConfig, sample_time_column

if TYPE_CHECKING:  # the transform (Arrow, DuckDB) is imported when a run executes
    from aggregator_assets.lake import Lake
    from aggregator_assets.trips.summarize import DaySummary

EXTERNAL_LAKE_KEY = AssetKey("vehicle_data_lake")
MISSING_DEVICES_SHOWN = 50


def column_schema() -> TableSchema:
    from aggregator_assets.trips.summarize import OUTPUT_SCHEMA

    return TableSchema(columns=[TableColumn(f.name, str(f.type)) for f in OUTPUT_SCHEMA])


def raw_hours_mapping(trips: TripsConfig) -> TimeWindowPartitionMapping:
    """Daily trip partition -> the hourly raw partitions it reads, as the UI shows them.

    Dagster measures start/end offsets of a daily -> hourly mapping in downstream partitions
    (days), so the hours actually read ([day - max_gap, day + 1d + lookahead)) are rounded out
    to whole days: the previous day (its last hour holds the lookback) and as many following
    days as the lookahead reaches into. The asset itself only requires the hours it reads. In
    legacy mode a day reads only its own hours.
    """
    if trips.legacy:
        return TimeWindowPartitionMapping()
    return TimeWindowPartitionMapping(start_offset=-1, end_offset=trips.lookahead_days)


def _days(context: AssetExecutionContext) -> list[datetime]:
    window = context.partition_time_window
    day = window.start.astimezone(timezone.utc)
    days = []
    while day < window.end:
        days.append(day)
        day += timedelta(days=1)
    return days


def _write_days(
    context: AssetExecutionContext,
    lake: "Lake",
    table_name: str,
    summarize: Callable[[datetime], tuple["DaySummary", dict]],
) -> MaterializeResult:
    """Summarise each day of the (possibly ranged) run, write it atomically, sum up metadata."""
    rows = trips = 0
    devices: set[str] = set()
    missing: set[str] = set()
    extra: dict[str, int] = {}
    paths = []
    for day in _days(context):
        summary, day_extra = summarize(day)
        relative = f"{day_path('trips', table_name, day=day)}/part-0.parquet"
        lake.write_table(relative, summary.table)
        paths.append(lake.uri(relative))
        rows += summary.table.num_rows
        trips += summary.trips
        devices.update(summary.devices)
        missing.update(summary.devices_missing_from_config)
        for key, value in {
            "trips_reaching_lookahead_end": summary.trips_reaching_lookahead_end,
            **day_extra,
        }.items():
            extra[key] = extra.get(key, 0) + value
        context.log.info(
            f"{day:%Y-%m-%d}: {summary.trips} trips, {summary.table.num_rows} rows -> {relative}"
        )
    return MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "dagster/column_schema": column_schema(),
            "trips": trips,
            "devices": len(devices),
            "devices_missing_from_config": len(missing),
            "devices_missing_from_config_sample": MetadataValue.json(
                sorted(missing)[:MISSING_DEVICES_SHOWN]
            ),
            **extra,
            "path": MetadataValue.path(
                paths[0] if len(paths) == 1 else lake.uri(f"trips/{table_name}")
            ),
            "days": len(paths),
        }
    )


def _mode(trips: TripsConfig) -> str:
    if trips.legacy:
        return "Trips and windows as the legacy script cuts them (`trip_windows: legacy`), per day."
    return (
        f"Trips are runs of samples without a gap over {trips.max_gap}, per UTC day a trip "
        "starts in."
    )


def _raw_trip_asset(config: PipelineConfig, trips: TripsConfig):
    topic = config.topic(trips.source_topic)
    signals = trips.aggregations.signals()
    time_column = sample_time_column(topic)

    @asset(
        name="trip_summaries",
        group_name=topic.asset_name,
        partitions_def=daily_partitions(),
        deps=[
            AssetDep(
                AssetKey(f"raw_{topic.asset_name}"), partition_mapping=raw_hours_mapping(trips)
            )
        ],
        backfill_policy=BackfillPolicy.single_run(),
        kinds={"duckdb", "parquet"},
        description=(
            f"One row per trip x aggregation x signal of `{topic.name}`. {_mode(trips)} "
            "Fails if a raw hour the day reads is closed (its end plus the topic's lateness) but "
            "not materialized."
        ),
    )
    def trip_summaries(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
        from aggregator_assets.trips.sources import (
            MissingHoursError,
            UnreadableTimeError,
            raw_hours_dataset,
            scan_window,
        )
        from aggregator_assets.trips.summarize import summarize_day

        store = lake.get_lake()
        # An hour counts as missing once it is closed (its end plus the topic's lateness, when
        # the topic sensor requests it); before that it is read as far as it exists.
        now = datetime.now(timezone.utc) - topic.lateness

        def summarize(day: datetime) -> tuple["DaySummary", dict]:
            window = scan_window(day, trips)
            try:
                raw = raw_hours_dataset(
                    store, topic.name, window, signals, now, config.partitions_start, time_column
                )
            except (MissingHoursError, UnreadableTimeError) as exc:
                raise Failure(description=str(exc)) from None
            extra = {
                "raw_files_read": len(raw.files),
                "hours_not_yet_available": len(raw.not_yet_available),
            }
            return summarize_day(raw.source, day, trips), extra

        return _write_days(context, store, "trip_summaries", summarize)

    return trip_summaries


def _external_trip_asset(config: PipelineConfig, trips: TripsConfig, spec: AssetSpec):
    @asset(
        name="trip_summaries_external",
        group_name=asset_group(config, trips),
        partitions_def=daily_partitions(),
        deps=[spec.key],
        backfill_policy=BackfillPolicy.single_run(),
        kinds={"duckdb", "parquet"},
        description=(
            "Per-trip summaries like `trip_summaries`, computed from the existing vehicle data "
            f"lake (`vehicle_data_lake`) instead of the Kafka topic. {_mode(trips)}"
            + (" Also writes the script's own file." if trips.legacy_output else "")
        ),
    )
    def trip_summaries_external(
        context: AssetExecutionContext, lake: LakeResource
    ) -> MaterializeResult:
        from aggregator_assets.trips.sources import UnreadableTimeError, external_source
        from aggregator_assets.trips.summarize import summarize_day

        store = lake.get_lake()
        if trips.external_lake_url:
            source, prefix = LakeResource(url=trips.external_lake_url, s3=lake.s3).get_lake(), ""
        else:
            source, prefix = store, trips.external_lake_prefix

        def summarize(day: datetime) -> tuple["DaySummary", dict]:
            try:
                files = external_source(source, prefix, day, trips)
            except UnreadableTimeError as exc:
                raise Failure(description=str(exc)) from None
            summary = summarize_day(files, day, trips)
            extra = {"external_files_read": files.files}
            if trips.legacy_output:
                extra["legacy_rows_written"] = _write_legacy(context, source, prefix, day, summary)
            return summary, extra

        return _write_days(context, store, "trip_summaries_external", summarize)

    return trip_summaries_external


def _write_legacy(
    context: AssetExecutionContext, lake: "Lake", prefix: str, day: datetime, summary: "DaySummary"
) -> int:
    """The script's file for `day`, written atomically where the script writes it; a day
    without rows has no file (as with the script), and a stale one from an earlier run goes."""
    from aggregator_assets.trips.legacy import legacy_output_path, legacy_rows

    relative = posixpath.join(prefix, legacy_output_path(day))
    rows = legacy_rows(summary.table)
    if rows.num_rows:
        lake.write_table(relative, rows)
        context.log.info(f"{day:%Y-%m-%d}: {rows.num_rows} legacy rows -> {lake.uri(relative)}")
    else:
        lake.delete(relative)
    return rows.num_rows


def asset_group(config: PipelineConfig, trips: TripsConfig) -> str:
    return config.topic(trips.source_topic).asset_name


def trip_assets(config: PipelineConfig) -> list:
    """The trip assets and the external lake spec, or [] when the config has no `trips:`
    (validated with the rest of the config when it was loaded)."""
    trips = config.trips
    if trips is None:
        return []
    where = trips.external_lake_url or f"<lake>/{trips.external_lake_prefix}"
    spec = AssetSpec(
        EXTERNAL_LAKE_KEY,
        group_name=asset_group(config, trips),
        kinds={"parquet"},
        description=(
            "An existing vehicle data lake, written outside this pipeline, laid out as "
            "`<root>/<device_id>/<message>/YYYY/MM/DD/*.parquet` (column t plus signals)."
        ),
        metadata={"url": where},
    )
    return [spec, _raw_trip_asset(config, trips), _external_trip_asset(config, trips, spec)]
