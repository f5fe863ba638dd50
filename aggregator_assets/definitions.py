"""The code location: assembles assets, checks, sensors and resources; no logic lives here."""

from dagster import Definitions

from aggregator_assets.assets.maintenance import maintenance_asset
from aggregator_assets.assets.raw import raw_assets
from aggregator_assets.assets.topics import topic_batches, topic_spec
from aggregator_assets.assets.trips import trip_assets
from aggregator_assets.assets.windows import window_assets
from aggregator_assets.automation import apply_automation
from aggregator_assets.config import load_pipeline_config
from aggregator_assets.environments import executor_for_environment, resources_for_environment
from aggregator_assets.live.job import live_definitions
from aggregator_assets.query import query_assets
from aggregator_assets.sensors import topic_sensors

config = load_pipeline_config()

defs = apply_automation(
    Definitions(
        assets=[
            *(topic_spec(t) for t in config.topics),
            *(raw_assets(b.name, b.topics, config) for b in topic_batches(config)),
            *window_assets(config),
            *trip_assets(config),
            *query_assets(config),
            maintenance_asset(config),
        ],
        sensors=topic_sensors(config),
        resources=resources_for_environment(),
        executor=executor_for_environment(),
    )
)
defs = Definitions.merge(defs, live_definitions(config))
