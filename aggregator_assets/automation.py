"""What keeps the lake current without anyone launching runs: automation and freshness policies.

- `raw_*` hours are requested by the topic sensors (`sensors.py`), not by conditions here.
- `windows_*` follow their raw hour: an hour is rebuilt whenever its raw hour was rematerialized
  (new hour or late records), within `AUTOMATION_LOOKBACK`; older hours are backfills. The topic
  sensors build windows in the same run as their raw hours, so the windows' own automation
  sensor only catches raw hours built otherwise, and ticks every 2 minutes.
- `trip_summaries*` days are built once all the raw hours they read exist, and rebuilt when any
  of them changes, at most once an hour (a day reads 24+ hours; rebuilding on each would waste
  runs).
- `lake_views` is refreshed when a table gains a partition, at most every
  `VIEWS_DEBOUNCE_CRON` (a refresh is a run; new hours of an existing table are visible through
  the views' globs without one).
- Every asset has a freshness policy fitting its cadence (`FRESHNESS`), which the UI shows as
  pass / warn / fail; the instance evaluates them when `freshness: enabled: true`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from dagster import (
    AssetSelection,
    AssetSpec,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
    FreshnessPolicy,
)

AUTOMATION_LOOKBACK = timedelta(days=7)
TRIPS_DEBOUNCE_CRON = "15 * * * *"
VIEWS_DEBOUNCE_CRON = "*/5 * * * *"
WINDOWS_AUTOMATION_INTERVAL_S = 120
WINDOWS = AssetSelection.from_string('key:"windows_*"')

FRESHNESS = {
    "raw": FreshnessPolicy.time_window(
        fail_window=timedelta(hours=2), warn_window=timedelta(hours=1, minutes=30)
    ),
    "windows": FreshnessPolicy.time_window(
        fail_window=timedelta(hours=2), warn_window=timedelta(hours=1, minutes=30)
    ),
    "trips": FreshnessPolicy.time_window(
        fail_window=timedelta(hours=30), warn_window=timedelta(hours=26)
    ),
    "query": FreshnessPolicy.time_window(
        fail_window=timedelta(hours=2), warn_window=timedelta(hours=1, minutes=30)
    ),
}


def _settled() -> AutomationCondition:
    return (
        ~AutomationCondition.any_deps_missing()
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    )


def windows_condition() -> AutomationCondition:
    """Eager over a lookback: `eager()` alone only sees the latest hour, and raw hours that
    close late (or receive late records) are older than that."""
    return (
        AutomationCondition.in_latest_time_window(AUTOMATION_LOOKBACK)
        & AutomationCondition.any_deps_updated().since_last_handled()
        & _settled()
    ).with_label("rebuild when the raw hour changes")


def trips_condition() -> AutomationCondition:
    return (
        AutomationCondition.in_latest_time_window(AUTOMATION_LOOKBACK)
        & (
            AutomationCondition.missing()
            | AutomationCondition.any_deps_updated().since_last_handled()
        )
        & AutomationCondition.cron_tick_passed(TRIPS_DEBOUNCE_CRON).since_last_handled()
        & _settled()
    ).with_label("build the day once its hours exist; rebuild at most hourly")


def views_condition() -> AutomationCondition:
    """Unpartitioned below hourly tables: `eager()` would wait for every hour of every table
    (`any_deps_missing`), so only missing and updated tables count."""
    refresh = (
        AutomationCondition.any_deps_updated().since_last_handled()
        & AutomationCondition.cron_tick_passed(VIEWS_DEBOUNCE_CRON).since_last_handled()
    )
    return (
        (AutomationCondition.missing().newly_true() | refresh) & ~AutomationCondition.in_progress()
    ).with_label("build when missing; refresh when a table gains a partition, every 5 min at most")


def stage_of(spec: AssetSpec) -> str | None:
    """'raw', 'windows', 'trips', 'query' or None (external specs: topics, the vehicle lake)."""
    name = spec.key.to_user_string()
    stages = (
        ("raw", "raw_"),
        ("windows", "windows_"),
        ("trips", "trip_summaries"),
        ("query", "lake_views"),
    )
    for stage, prefix in stages:
        if name.startswith(prefix):
            return stage
    return None


CONDITIONS: dict[str, Callable[[], AutomationCondition]] = {
    "windows": windows_condition,
    "trips": trips_condition,
    "query": views_condition,
}


def with_policies(spec: AssetSpec) -> AssetSpec:
    """The spec with its stage's freshness policy and automation condition (if it has any)."""
    stage = stage_of(spec)
    if stage is None:
        return spec
    changes: dict = {"freshness_policy": FRESHNESS[stage]}
    if stage in CONDITIONS:
        changes["automation_condition"] = CONDITIONS[stage]()
    return spec.replace_attributes(**changes)


def apply_automation(defs: Definitions) -> Definitions:
    """Attach freshness policies and automation conditions to every asset of `defs`, and add
    the automation condition sensors (running by default, or nothing would be automated)."""
    mapped = defs.permissive_map_resolved_asset_specs(func=with_policies, selection=None)
    return Definitions.merge(mapped, Definitions(sensors=automation_sensors()))


def automation_sensors() -> list[AutomationConditionSensorDefinition]:
    """Windows on their own, less often: the topic sensors already build an hour's windows in
    the run that builds its raw hour, so this one only catches raw hours built otherwise (a
    backfill); and evaluating a thousand windows assets was most of the daemon's CPU with
    1,000 topics (docs/operations.md, "Many topics")."""
    return [
        AutomationConditionSensorDefinition(
            "automation_condition_sensor",
            target=AssetSelection.all() - WINDOWS,
            default_status=DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=30,
            description="Evaluates the automation conditions of trip summaries and lake views.",
        ),
        AutomationConditionSensorDefinition(
            "windows_automation_sensor",
            target=WINDOWS,
            default_status=DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=WINDOWS_AUTOMATION_INTERVAL_S,
            description=(
                "Rebuilds the windows of raw hours materialized outside a topic sensor's run"
                " (backfills); the topic sensors' runs build windows with their raw hours."
            ),
        ),
    ]
