"""aggregations.json and the `trips:` section: accepted as the teams write them, errors by key."""

from __future__ import annotations

import json

import pytest
import yaml

from aggregator_assets.config import ConfigError, load_pipeline_config
from aggregator_assets.trips import TripsConfig, load_aggregations, parse_aggregations
from aggregator_assets_tests.docs_commands import ROOT, blocks
from aggregator_assets_tests.trips.helpers import AGGREGATIONS, demo_config, pipeline_with_trips


def test_packaged_demo_config_loads():
    trips = load_pipeline_config().trips
    assert isinstance(trips, TripsConfig) and trips.source_topic == "vehicle-can"
    assert trips.trip_windows == "gaps" and not trips.legacy_output
    assert trips.max_gap_delta.total_seconds() == 600
    assert set(trips.aggregations.messages()) == {
        "CAN2_gnss_speed",
        "CAN2_gnss_altitude",
        "CAN2_gnss_imu",
    }


def test_relative_json_path_resolves_against_yaml_folder(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "aggs.json").write_text(json.dumps(AGGREGATIONS))
    config = demo_config() | {"trips": {"aggregations": "aggs.json", "max_gap": "5m"}}
    (tmp_path / "conf" / "pipeline.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)  # not the config's folder
    trips = load_pipeline_config(tmp_path / "conf" / "pipeline.yaml").trips
    assert trips.aggregations.device_cluster["dev-b"] == "cluster2"


def _broken(path: list, value) -> dict:
    data = json.loads(json.dumps(AGGREGATIONS))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (
            ["cluster_details", 0, "cluster1", "aggregations", 0, "aggregation"],
            "mean",
            "aggregation",
        ),
        (["device_clusters", 1, "cluster"], "cluster9", "device_clusters[1].cluster"),
        (["device_clusters", 1, "devices"], ["dev-a"], "device_clusters[1].devices"),
        (
            ["cluster_details", 0, "cluster1", "trip_identifier", "signal"],
            [],
            "trip_identifier.signal",
        ),
        (["cluster_details", 0, "cluster1", "tripidentifier"], {}, "tripidentifier"),
    ],
)
def test_errors_name_the_bad_key(path, value, named):
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        parse_aggregations(_broken(path, value))


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"max_gap": "ten minutes"}, "trips.max_gap"),
        ({"max_gap": "2d"}, "trips.max_gap"),
        ({"source_topic": "nope"}, "trips.source_topic: Value error, no topic named 'nope'"),
        ({"aggregations": "x.json"}, "trips.aggregations: Value error, file"),
        ({"trip_windows": "script"}, "trips.trip_windows"),
        ({"legacy_output": True}, "trips.legacy_output"),
        ({"default_cluster": "cluster9"}, "trips.default_cluster"),
        ({"external_lake_prefix": "../elsewhere"}, "trips.external_lake_prefix"),
    ],
)
def test_trips_section_errors_name_the_key(section, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        pipeline_with_trips(**({"aggregations": AGGREGATIONS} | section))


def test_signals_must_be_fields_of_the_source_topic():
    aggs = json.loads(json.dumps(AGGREGATIONS))
    aggs["cluster_details"][1]["cluster2"]["aggregations"][0]["signal"] = ["Torque"]
    with pytest.raises(ConfigError, match=r"trips\.aggregations: .*no field\(s\) \['Torque'\]"):
        pipeline_with_trips(aggregations=aggs)


@pytest.mark.parametrize(
    "message", ["../../../outside", "/etc", "a/b", "a\\b", ".", "..", "CAN\n", "x\x00"]
)
@pytest.mark.parametrize("where", ["trip_identifier", "aggregations"])
def test_message_names_cannot_leave_the_vehicle_lake(message, where):
    aggs = json.loads(json.dumps(AGGREGATIONS))
    details = aggs["cluster_details"][0]["cluster1"]
    spec = details["trip_identifier"] if where == "trip_identifier" else details[where][0]
    spec["message"] = message
    with pytest.raises(ConfigError) as error:
        pipeline_with_trips(aggregations=aggs)
    key = "trip_identifier.message" if where == "trip_identifier" else "aggregations[0].message"
    assert f"trips.aggregations.cluster_details[0].cluster1.{key}" in str(error.value)
    assert "cannot be a folder of the vehicle lake" in str(error.value)


def test_invalid_json_is_reported(tmp_path):
    (tmp_path / "a.json").write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_aggregations(tmp_path / "a.json")


def test_readme_trips_block_is_the_packaged_section_with_every_key(tmp_path):
    """The README's `trips:` reference block lists every setting, with the defaults the code
    has, and loads as written next to the packaged aggregations file."""
    readme_blocks = blocks(ROOT / "README.md")
    (block,) = [b for b in readme_blocks if b.language == "yaml" and b.text.startswith("trips:")]
    section = yaml.safe_load(block.text)["trips"]
    assert set(section) == set(TripsConfig.model_fields), "every trips setting is documented"
    packaged = ROOT / "aggregator_assets" / "config"
    (tmp_path / "trips_aggregations.json").write_text(
        (packaged / "trips_aggregations.json").read_text()
    )
    config = yaml.safe_load((packaged / "pipeline.yaml").read_text()) | {"trips": section}
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(config))
    trips = load_pipeline_config(tmp_path / "pipeline.yaml").trips
    defaults = TripsConfig.model_fields
    for key, value in section.items():
        if key != "aggregations":
            assert getattr(trips, key) == value == defaults[key].default, key
