"""Every asset of the code location carries its freshness policy and automation condition."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetSpec,
    AutomationConditionSensorDefinition,
    DagsterInstance,
    DefaultSensorStatus,
    Definitions,
    evaluate_automation_conditions,
)

from aggregator_assets.assets.topics import topic_batches
from aggregator_assets.automation import stage_of
from aggregator_assets.config import load_pipeline_config
from aggregator_assets.definitions import defs as code_location

VIEWS = AssetKey("lake_views")


def test_every_materializable_asset_has_freshness_and_the_right_automation():
    defs = code_location
    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    stages = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        stage = stage_of(AssetSpec(key))
        name = key.to_user_string()
        if not node.is_materializable:
            assert node.freshness_policy is None, name
            continue
        stages.setdefault(stage, []).append(name)
        assert node.freshness_policy is not None, f"{name} has no freshness policy"
        if name.startswith("raw_"):
            assert node.automation_condition is None, "raw hours are requested by topic sensors"
            assert node.freshness_policy.fail_window.to_timedelta() == timedelta(hours=2)
        else:
            assert node.automation_condition is not None, f"{name} is never automated"
        if name.startswith("trip_summaries"):
            assert node.freshness_policy.fail_window.to_timedelta() == timedelta(hours=30)
    assert set(stages) >= {"raw", "windows", "trips", "query"}
    views = graph.get(VIEWS)
    tables = {k.to_user_string() for k in views.parent_keys}
    assert {"trip_summaries", "trip_summaries_external", "windows_iot_events_1m"} <= tables
    assert {n for n in stages["raw"]} <= tables


def _requested(instance: DagsterInstance, at: datetime, cursor=None):
    result = evaluate_automation_conditions(
        defs=code_location, instance=instance, evaluation_time=at, cursor=cursor
    )
    return result.get_num_requested(VIEWS), result.cursor


def test_lake_views_refresh_when_a_table_gains_a_partition():
    """Missing views are built at once; a new raw hour refreshes them at the next 5-minute mark;
    nothing happens while no table changes. Evaluation times lie a day ahead on a 5-minute grid,
    after every event recorded here (events carry the real time)."""
    now = datetime.now(timezone.utc) + timedelta(days=1)
    grid = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
    with DagsterInstance.ephemeral() as instance:
        requested, cursor = _requested(instance, grid + timedelta(minutes=1))
        assert requested == 1, "missing views were not requested"
        instance.report_runless_asset_event(AssetMaterialization(VIEWS))
        requested, cursor = _requested(instance, grid + timedelta(minutes=2), cursor)
        assert requested == 0, "refreshed although no table changed"
        instance.report_runless_asset_event(
            AssetMaterialization("raw_iot_events", partition="2026-11-30-09:00")
        )
        requested, cursor = _requested(instance, grid + timedelta(minutes=3), cursor)
        assert requested == 0, "refreshed before the 5-minute mark"
        requested, cursor = _requested(instance, grid + timedelta(minutes=6), cursor)
        assert requested == 1, "not refreshed after a table gained a partition"
        requested, cursor = _requested(instance, grid + timedelta(minutes=12), cursor)
        assert requested == 0, "refreshed twice for one change"


def test_sensors_run_without_anyone_switching_them_on():
    defs = code_location
    sensors = defs.get_repository_def().sensor_defs
    automation = [s for s in sensors if isinstance(s, AutomationConditionSensorDefinition)]
    config = load_pipeline_config()
    graph = defs.resolve_asset_graph()
    automated = [k for k in graph.get_all_asset_keys() if graph.get(k).automation_condition]
    targets = {s.name: s.asset_selection.resolve(graph) for s in automation}
    for key in automated:
        owners = [name for name, keys in targets.items() if key in keys]
        expected = "windows_automation_sensor" if key.path[0].startswith("windows_") else None
        assert len(owners) == 1 and owners[0] == (expected or "automation_condition_sensor"), (
            f"{key.to_user_string()} is evaluated by {owners}"
        )
    names = {f"{b.name}_sensor" for b in topic_batches(config)}
    topic_sensors = [s for s in sensors if s.name in names]
    assert len(topic_sensors) == len(names) == -(-len(config.topics) // config.topic_batch_size)
    watched = [k for s in topic_sensors for k in s.asset_selection.resolve(graph)]
    raw = [k for k in watched if k.to_user_string().startswith("raw_")]
    want = [AssetKey(f"raw_{t.asset_name}") for t in config.topics]
    assert sorted(raw) == sorted(want), "each topic is watched by exactly one topic sensor"
    windows = {f"windows_{t.asset_name}_{w.name}" for t in config.topics for w in t.windows}
    assert {k.to_user_string() for k in watched} >= windows, "windows follow in the same run"
    # The live tail is one permanent run: on by itself only where AGGREGATOR_LIVE_TAIL=1 says so.
    status = {s.name: s.default_status for s in sensors}
    assert status.pop("live_tail_sensor") == DefaultSensorStatus.STOPPED
    assert set(status.values()) == {DefaultSensorStatus.RUNNING}
