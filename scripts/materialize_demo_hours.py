"""Ingest the demo's closed hours so a fresh `make dev` opens on filled partitions.

One ranged run per partitions definition (hourly raw and windows, then daily trips), recorded
in the $DAGSTER_HOME instance so the UI shows them, just as a backfill from the UI would.
"""

import argparse
from datetime import datetime, timedelta, timezone

from dagster import AssetSelection, DagsterInstance, materialize
from dagster._core.definitions.partitions.definition import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
)

from aggregator_assets.definitions import defs


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
    plan = [(hourly, first.strftime("%Y-%m-%d-%H:00"), last_closed.strftime("%Y-%m-%d-%H:00"))]
    last_full_day = (now - timedelta(days=1)).date()
    if daily and first.date() <= last_full_day:
        plan.append((daily, first.strftime("%Y-%m-%d"), last_full_day.strftime("%Y-%m-%d")))
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
