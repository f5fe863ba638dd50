"""Partition definitions, defined once: hourly UTC for raw and windows, daily UTC for trips."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import cache

from dagster import DailyPartitionsDefinition, HourlyPartitionsDefinition

from aggregator_assets.config import load_pipeline_config

HOUR_KEY_FORMAT = "%Y-%m-%d-%H:%M"
DAY_KEY_FORMAT = "%Y-%m-%d"


@cache
def _configured_start() -> datetime:
    return load_pipeline_config().partitions_start


def hourly_partitions(start: datetime | None = None) -> HourlyPartitionsDefinition:
    start = start or _configured_start()
    return HourlyPartitionsDefinition(start_date=start.strftime(HOUR_KEY_FORMAT), timezone="UTC")


def daily_partitions(start: datetime | None = None) -> DailyPartitionsDefinition:
    start = start or _configured_start()
    return DailyPartitionsDefinition(start_date=start.strftime(DAY_KEY_FORMAT), timezone="UTC")


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """UTC hours overlapping [start, end): the hourly partitions of a time window."""
    hour = start.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    hours = []
    while hour < end:
        hours.append(hour)
        hour += timedelta(hours=1)
    return hours
