"""Partition definitions, defined once: hourly UTC for raw and windows, daily UTC for trips."""

from __future__ import annotations

from functools import cache

from dagster import DailyPartitionsDefinition, HourlyPartitionsDefinition

from aggregator_assets.config import load_pipeline_config

HOUR_KEY_FORMAT = "%Y-%m-%d-%H:%M"
DAY_KEY_FORMAT = "%Y-%m-%d"


@cache
def _start() -> str:
    return load_pipeline_config().partitions_start.strftime(HOUR_KEY_FORMAT)


def hourly_partitions(start: str | None = None) -> HourlyPartitionsDefinition:
    return HourlyPartitionsDefinition(start_date=start or _start(), timezone="UTC")


def daily_partitions(start: str | None = None) -> DailyPartitionsDefinition:
    return DailyPartitionsDefinition(start_date=(start or _start())[:10], timezone="UTC")
