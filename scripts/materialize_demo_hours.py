"""Ingest the demo's closed hours so a fresh `make dev` opens on filled partitions.

One ranged run per partitions definition (hourly raw and windows, then daily trips), recorded
in the $DAGSTER_HOME instance so the UI shows them, just as a backfill from the UI would.
A day is built only when every hourly partition it depends on (its partition mapping: for
trips, the day before through the lookahead) is among the demo hours: the trip asset fails on a
missing hour, and a short demo crossing midnight would otherwise stop `make dev` before the UI.
"""

import argparse
from datetime import datetime, timedelta, timezone

from dagster import AssetSelection, DagsterInstance, materialize
from dagster._core.definitions.partitions.definition import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
)

from aggregator_assets.definitions import defs

HOUR_KEY = "%Y-%m-%d-%H:00"


def complete_days(graph, daily, hourly, first: datetime, last: datetime, now: datetime):
    """The days (keys) of the daily assets whose hourly parents all lie in [first, last]."""
    demo_hours, hour = set(), first
    while hour <= last:
        demo_hours.add(hour.strftime(HOUR_KEY))
        hour += timedelta(hours=1)
    days, day = [], datetime.combine(first.date(), datetime.min.time(), timezone.utc)
    while day + timedelta(days=1) <= now:
        key = day.strftime("%Y-%m-%d")
        parents = [
            p.partition_key
            for k in daily
            for p in graph.get_parents_partitions(k, key).parent_partitions
            if p.asset_key in hourly
        ]
        if parents and set(parents) <= demo_hours:
            days.append(key)
        day += timedelta(days=1)
    return days


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=int, default=6)
    args = parser.parse_args()
    now = datetime.now(timezone.utc)
    last_closed = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    first = last_closed - timedelta(hours=args.hours - 1)
    graph = defs.resolve_asset_graph()
    assets = list(defs.assets or [])
    instance = DagsterInstance.get()
    hourly = [
        k
        for k in graph.materializable_asset_keys
        if isinstance(graph.get(k).partitions_def, HourlyPartitionsDefinition)
    ]
    daily = [
        k
        for k in graph.materializable_asset_keys
        if isinstance(graph.get(k).partitions_def, DailyPartitionsDefinition)
    ]
    plan = [(hourly, first.strftime(HOUR_KEY), last_closed.strftime(HOUR_KEY))]
    days = complete_days(graph, daily, set(hourly), first, last_closed, now) if daily else []
    if days:
        plan.append((daily, days[0], days[-1]))
    for keys, start, end in plan:
        if not keys:
            continue
        print(f"    {', '.join(k.to_user_string() for k in keys)}: {start} .. {end}")
        result = materialize(
            assets,
            selection=AssetSelection.assets(*keys),
            instance=instance,
            resources=defs.resources,
            tags={
                "dagster/asset_partition_range_start": start,
                "dagster/asset_partition_range_end": end,
            },
            raise_on_error=False,
        )
        if not result.success:
            raise SystemExit("demo ingestion failed; see the run in the Dagster UI")


if __name__ == "__main__":
    main()
