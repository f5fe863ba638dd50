"""The code location: assembles assets, checks, sensors and resources; no logic lives here."""

from __future__ import annotations

from dagster import Definitions

from aggregator_assets.assets.raw import raw_asset
from aggregator_assets.assets.topics import topic_spec
from aggregator_assets.config import load_pipeline_config
from aggregator_assets.environments import resources_for_environment

config = load_pipeline_config()

defs = Definitions(
    assets=[
        *(topic_spec(t) for t in config.topics),
        *(raw_asset(t, config) for t in config.topics),
    ],
    resources=resources_for_environment(),
)
