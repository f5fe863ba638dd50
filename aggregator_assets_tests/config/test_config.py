"""The pipeline config fails at load time, naming the key that is wrong."""

import copy

import pytest
import yaml

from aggregator_assets.config import ConfigError, load_pipeline_config
from aggregator_assets.config.loader import default_config_path, parse_pipeline_config


@pytest.fixture
def demo() -> dict:
    return yaml.safe_load(default_config_path().read_text())


def test_the_shipped_demo_config_loads():
    config = load_pipeline_config()
    assert [t.name for t in config.topics] == ["iot-events", "observatory.telemetry", "vehicle-can"]
    iot = config.topic("iot-events")
    assert iot.asset_name == "iot_events"
    assert iot.numeric_fields == ["event_duration", "value", "battery_level", "signal_strength"]
    assert [w.seconds for w in iot.windows] == [60, 300]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t["windows"].append({"size": "7m"}), "topics[0].windows[2].size"),
        (lambda t: t.update(key_field="serial"), "key_field: 'serial' is not one of"),
        (lambda t: t.update(name="bad/topic"), "topics[0].name"),
        (lambda t: t.update(name=".."), "topics[0].name"),
        (lambda t: t["fields"]["value"].update(type="decimal"), "topics[0].fields.value.type"),
        (lambda t: t["fields"]["unit"].update(min=3), "min/max only apply"),
        (lambda t: t["fields"].update(__x={"type": "int"}), "fields.__x: names starting with '__'"),
        (lambda t: t["flags"].update(x={"field": "nope", "op": "<", "value": 1}), "flags.x.field"),
        (lambda t: t.update(allowed_lateness="soon"), "topics[0].allowed_lateness"),
        (lambda t: t.update(colour="red"), "topics[0].colour"),
    ],
)
def test_bad_topic_settings_name_the_key(demo, change, message):
    bad = copy.deepcopy(demo)
    change(bad["topics"][0])
    with pytest.raises(ConfigError) as error:
        parse_pipeline_config(bad, "test.yaml")
    assert message in str(error.value)
    assert "test.yaml" in str(error.value)


def test_two_topics_with_the_same_asset_name_are_refused(demo):
    bad = copy.deepcopy(demo)
    bad["topics"][1]["name"] = "iot.events"
    with pytest.raises(ConfigError, match="same asset name"):
        parse_pipeline_config(bad)


def test_partitions_must_start_on_a_whole_hour(demo):
    bad = copy.deepcopy(demo) | {"partitions_start": "2026-11-01T00:30:00Z"}
    with pytest.raises(ConfigError, match="partitions_start"):
        parse_pipeline_config(bad)


def test_unreadable_and_non_yaml_files_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_pipeline_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("topics: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_pipeline_config(broken)
