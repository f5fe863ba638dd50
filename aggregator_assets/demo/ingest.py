"""Ingest what the demo produced, so `make dev` opens on filled partitions and nothing else.

Each topic's hours are those its demo span covers and the clock has closed; topics with the same
hours share one ranged run (raw and windows), recorded in the $DAGSTER_HOME instance so the UI
shows them as a backfill from the UI would. A trip day is built when every ended hour it reads
(the day, `max_gap` before it, the lookahead after it) is among its topic's ingested hours. The
lake views come last, so the DuckDB database exists when the UI opens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from aggregator_assets.config.models import PipelineConfig
from aggregator_assets.partitions import DAY_KEY_FORMAT, HOUR_KEY_FORMAT, hours_between
from aggregator_assets.trips.config import TripsConfig

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Runs print warnings and errors only; the event stream is in the UI.
PREFIX = "  - "  # lines `make dev` shows
TRIP_ASSETS = ["trip_summaries", "trip_summaries_external"]
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass(frozen=True)
class DemoRun:
    """One run of the demo ingestion: asset keys and, for partitioned assets, a key range."""

    assets: list[str]
    first: str | None = None
    last: str | None = None

    def describe(self) -> str:
        span = f" {self.first} .. {self.last}" if self.first else ""
        return f"{', '.join(self.assets)}:{span}"


def _floor_hour(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def closed_hours(
    span: tuple[datetime, datetime], now: datetime, partitions_start: datetime
) -> list[datetime]:
    """The hours that hold data of `span` (event times in [start, end)) and have ended by `now`."""
    start = max(span[0], partitions_start)
    return [h for h in hours_between(start, span[1]) if h + HOUR <= now]


def trip_days(hours: list[datetime], trips: TripsConfig, now: datetime) -> list[datetime]:
    """Days whose ended scan hours are all in `hours` (hours still running are read as they are:
    the daily run summarises what exists and the automation rebuilds it as they close)."""
    have = set(hours)
    days = []
    day = min(hours, default=now).replace(hour=0)
    while day + DAY <= now:
        scan = hours_between(day - trips.max_gap_delta, day + DAY + trips.lookahead_delta)
        if all(h in have for h in scan if h + HOUR <= now):
            days.append(day)
        day += DAY
    return days


def plan(
    config: PipelineConfig,
    spans: dict[str, tuple[datetime, datetime]],
    now: datetime,
    trips: TripsConfig | None = None,
) -> list[DemoRun]:
    """The runs that ingest `spans` (topic name -> event-time span produced), in order."""
    by_hours: dict[tuple[datetime, datetime], list[str]] = {}
    topic_hours: dict[str, list[datetime]] = {}
    for name, span in spans.items():
        topic = config.topic(name)
        hours = closed_hours(span, now, config.partitions_start)
        topic_hours[topic.name] = hours
        if not hours:
            continue
        keys = [f"raw_{topic.asset_name}"] + [
            f"windows_{topic.asset_name}_{w.name}" for w in topic.windows
        ]
        by_hours.setdefault((hours[0], hours[-1]), []).extend(keys)
    runs = [
        DemoRun(keys, first.strftime(HOUR_KEY_FORMAT), last.strftime(HOUR_KEY_FORMAT))
        for (first, last), keys in by_hours.items()
    ]
    if trips is not None:
        days = trip_days(topic_hours.get(config.topic(trips.source_topic).name, []), trips, now)
        if days:
            first, last = days[0].strftime(DAY_KEY_FORMAT), days[-1].strftime(DAY_KEY_FORMAT)
            runs.append(DemoRun(TRIP_ASSETS, first, last))
    runs.append(DemoRun(["lake_views"]))
    return runs


def run_all(runs: list[DemoRun], say: Callable[[str], None] = print) -> None:
    """Materialize `runs` in the $DAGSTER_HOME instance, one line each; stop at a failure."""
    from dagster import AssetKey, AssetSelection, DagsterInstance, materialize

    from aggregator_assets.definitions import defs

    instance = DagsterInstance.get()
    assets = list(defs.assets or [])
    for run in runs:
        tags = {}
        if run.first:
            tags = {
                "dagster/asset_partition_range_start": run.first,
                "dagster/asset_partition_range_end": run.last,
            }
        started = time.monotonic()
        result = materialize(
            assets,
            selection=AssetSelection.assets(*(AssetKey(k) for k in run.assets)),
            instance=instance,
            resources=defs.resources,
            tags=tags,
            run_config=QUIET_RUN_CONFIG,
            raise_on_error=False,
        )
        # A ranged run reports the range's total on each of its partitions: count it once.
        rows = sum(
            {
                e.asset_key: int(e.materialization.metadata["dagster/row_count"].value)
                for e in result.get_asset_materialization_events()
                if "dagster/row_count" in e.materialization.metadata
            }.values()
        )
        say(f"{run.describe()} {rows:,} rows in {time.monotonic() - started:.0f}s")
        if not result.success:
            raise SystemExit(f"demo ingestion failed in run {result.run_id}; see it in the UI")


def main(argv: list[str] | None = None) -> int:
    """`python -m aggregator_assets.demo.ingest '{"<topic>": ["<start>", "<end>"], ...}'`."""
    import json
    import sys

    from aggregator_assets.config import load_pipeline_config
    from aggregator_assets.demo.external_lake import write_external_lake
    from aggregator_assets.environments import resources_for_environment

    spans = {
        topic: (datetime.fromisoformat(start), datetime.fromisoformat(end))
        for topic, (start, end) in json.loads((argv or sys.argv[1:])[0]).items()
    }
    config = load_pipeline_config()
    trips = config.trips
    now = datetime.now(timezone.utc)

    def say(text: str) -> None:
        print(f"{PREFIX}{text}", flush=True)

    for run in plan(config, spans, now, trips):
        if run.assets == TRIP_ASSETS and trips and trips.external_lake_url is None:
            # The raw vehicle hours exist now: copy them into the vehicle teams' lake layout.
            topic = config.topic(trips.source_topic).name
            hours = closed_hours(spans[topic], now, config.partitions_start)
            lake = resources_for_environment()["lake"].get_lake()
            files = write_external_lake(lake, topic, hours, trips, trips.external_lake_prefix)
            say(f"vehicle_data_lake: {files} files in the vehicle teams' layout, from raw hours")
        run_all([run], say)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
