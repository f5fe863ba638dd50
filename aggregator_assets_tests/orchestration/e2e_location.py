"""The code location the end-to-end test runs: the project's assets with orchestration wired in,
the topic sensors ticking every few seconds so the test does not wait minutes per tick."""

from dagster import Definitions

from aggregator_assets.assets.raw import raw_asset
from aggregator_assets.assets.topics import topic_spec
from aggregator_assets.assets.trips import trip_assets
from aggregator_assets.assets.windows import window_assets
from aggregator_assets.automation import apply_automation
from aggregator_assets.config import load_pipeline_config
from aggregator_assets.environments import resources_for_environment
from aggregator_assets.sensors import SensorSettings, topic_sensors

config = load_pipeline_config()

defs = apply_automation(
    Definitions(
        assets=[
            *(topic_spec(t) for t in config.topics),
            *(raw_asset(t, config) for t in config.topics),
            *window_assets(config),
            *trip_assets(config),
        ],
        sensors=topic_sensors(config, SensorSettings(interval_s=10)),
        resources=resources_for_environment(),
    )
)
