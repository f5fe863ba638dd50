"""aggregations.json and the `trips:` section: accepted as the teams write them, errors by key."""

from __future__ import annotations

import json

import pytest

from aggregator_assets.config import ConfigError, load_pipeline_config
from aggregator_assets.config.loader import default_config_path
from aggregator_assets.trips import load_aggregations, parse_aggregations, parse_trips_config
from aggregator_assets_tests.trips.helpers import AGGREGATIONS


def test_packaged_demo_config_loads():
    trips = parse_trips_config(load_pipeline_config(), default_config_path().parent)
    assert trips is not None and trips.source_topic == "vehicle-can"
    assert trips.max_gap_delta.total_seconds() == 600
    assert set(trips.aggregations.messages()) == {
        "CAN2_gnss_speed",
        "CAN2_gnss_altitude",
        "CAN2_gnss_imu",
    }


def test_relative_json_path_resolves_against_yaml_folder(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "aggs.json").write_text(json.dumps(AGGREGATIONS))
    pipeline = load_pipeline_config().model_copy(
        update={"trips": {"aggregations": "aggs.json", "max_gap": "5m"}}
    )
    trips = parse_trips_config(pipeline, tmp_path / "conf")
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


def test_trips_section_errors_name_the_key(tmp_path):
    base = load_pipeline_config()
    bad = {"aggregations": AGGREGATIONS, "max_gap": "ten minutes"}
    with pytest.raises(ConfigError, match=r"trips\.max_gap"):
        parse_trips_config(base.model_copy(update={"trips": bad}), tmp_path)
    bad = {"aggregations": AGGREGATIONS, "source_topic": "nope"}
    with pytest.raises(ConfigError, match=r"trips\.source_topic"):
        parse_trips_config(base.model_copy(update={"trips": bad}), tmp_path)
    with pytest.raises(ConfigError, match="cannot read aggregations file"):
        parse_trips_config(base.model_copy(update={"trips": {"aggregations": "x.json"}}), tmp_path)


def test_invalid_json_is_reported(tmp_path):
    (tmp_path / "a.json").write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_aggregations(tmp_path / "a.json")
