"""Every asset of the code location carries its freshness policy and automation condition."""

from __future__ import annotations

from datetime import timedelta

from dagster import (
    AssetSpec,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
)

from aggregator_assets.assets.raw import raw_asset
from aggregator_assets.assets.topics import topic_spec
from aggregator_assets.assets.trips import trip_assets
from aggregator_assets.assets.windows import window_assets
from aggregator_assets.automation import apply_automation, stage_of
from aggregator_assets.config import load_pipeline_config
from aggregator_assets.environments import resources_for_environment
from aggregator_assets.sensors import topic_sensors


def wired_definitions() -> Definitions:
    """What definitions.py assembles once orchestration is wired in."""
    config = load_pipeline_config()
    defs = Definitions(
        assets=[
            *(topic_spec(t) for t in config.topics),
            *(raw_asset(t, config) for t in config.topics),
            *window_assets(config),
            *trip_assets(config),
        ],
        sensors=topic_sensors(config),
        resources=resources_for_environment(),
    )
    return apply_automation(defs)


def test_every_materializable_asset_has_freshness_and_the_right_automation():
    defs = wired_definitions()
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
    assert set(stages) >= {"raw", "windows", "trips"}


def test_sensors_run_without_anyone_switching_them_on():
    defs = wired_definitions()
    sensors = defs.get_repository_def().sensor_defs
    automation = [s for s in sensors if isinstance(s, AutomationConditionSensorDefinition)]
    assert len(automation) == 1
    config = load_pipeline_config()
    assert {s.name for s in sensors} >= {f"{t.asset_name}_topic_sensor" for t in config.topics}
    assert all(s.default_status == DefaultSensorStatus.RUNNING for s in sensors)
