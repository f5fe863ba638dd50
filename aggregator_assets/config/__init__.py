"""Pipeline configuration: a YAML file of topics, loaded into typed models once."""

from aggregator_assets.config.loader import (
    ConfigError,
    default_config_path,
    load_pipeline_config,
)
from aggregator_assets.config.models import (
    Condition,
    FieldSpec,
    LandingSettings,
    PipelineConfig,
    TopicConfig,
    WindowSpec,
    asset_name,
    parse_duration,
)

__all__ = [
    "Condition",
    "ConfigError",
    "FieldSpec",
    "LandingSettings",
    "PipelineConfig",
    "TopicConfig",
    "WindowSpec",
    "asset_name",
    "default_config_path",
    "load_pipeline_config",
    "parse_duration",
]
