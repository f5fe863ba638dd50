"""A broken `trips:` section fails `aggregator-assets config-check` exactly as it fails loading
the code location: the same validation runs in both, and both name the key (issues #13, #17).

Each case is a copy of the packaged pipeline.yaml edited as a user would, in its own folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aggregator_assets.config import default_config_path

PACKAGED = default_config_path()
CLI = Path(sys.executable).with_name("aggregator-assets")


def _aggregations() -> dict:
    return json.loads(PACKAGED.with_name("trips_aggregations.json").read_text())


def _unknown_signal(aggs: dict) -> dict:
    aggs["cluster_details"][0]["cluster1"]["aggregations"][0]["signal"] = ["Torque"]
    return aggs


def _escaping_message(aggs: dict) -> dict:
    aggs["cluster_details"][1]["cluster2"]["aggregations"][2]["message"] = "../../../outside"
    return aggs


# name -> (edit of the YAML text, edit of the aggregations JSON or None to leave it out, the key
# the error must name)
CASES = {
    "unknown_source_topic": (
        ("source_topic: vehicle-can", "source_topic: vehicle-bus"),
        lambda a: a,
        "trips.source_topic: Value error, no topic named 'vehicle-bus'",
    ),
    "max_gap_not_a_duration": (
        ("max_gap: 10m", "max_gap: tenminutes"),
        lambda a: a,
        "trips.max_gap: Value error, 'tenminutes' is not a duration",
    ),
    "aggregations_file_not_copied": (
        None,
        None,
        "trips.aggregations: Value error, file {folder}/trips_aggregations.json not found",
    ),
    "signal_not_a_field": (
        None,
        _unknown_signal,
        "trips.aggregations: Value error, topic 'vehicle-can' has no field(s) ['Torque']",
    ),
    "message_leaves_the_lake": (
        None,
        _escaping_message,
        "cluster_details[1].cluster2.aggregations[2].message: Value error, '../../../outside'"
        " cannot be a folder of the vehicle lake",
    ),
}


def _copy(folder: Path, text_edit, json_edit) -> Path:
    folder.mkdir()
    text = PACKAGED.read_text()
    if text_edit:
        assert text_edit[0] in text
        text = text.replace(*text_edit)
    (folder / "pipeline.yaml").write_text(text)
    if json_edit:
        (folder / "trips_aggregations.json").write_text(json.dumps(json_edit(_aggregations())))
    return folder / "pipeline.yaml"


@pytest.fixture(scope="module")
def configs(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """name -> (path of the copied config, text its error must contain)"""
    root = tmp_path_factory.mktemp("configs")
    out = {}
    for name, (text_edit, json_edit, named) in CASES.items():
        path = _copy(root / name, text_edit, json_edit)
        out[name] = (path, named.format(folder=path.parent))
    out["valid_copy"] = (_copy(root / "valid_copy", None, lambda a: a), "")
    return out


@pytest.mark.parametrize("name", [*CASES, "valid_copy"])
def test_config_check_command(configs, name):
    path, named = configs[name]
    done = subprocess.run(
        [str(CLI), "config-check", str(path)], capture_output=True, text=True, timeout=120
    )
    if name == "valid_copy":
        assert done.returncode == 0, done.stderr
        assert "trips (from raw_vehicle_can): trip_summaries, vehicle_data_lake" in done.stdout
        return
    assert done.returncode == 1
    assert named in done.stderr and str(path) in done.stderr
    assert done.stdout == ""


# Imports the code location module once per config, as `dagster dev -m` and the code server do.
_LOAD = """
import importlib, json, os, sys
from aggregator_assets.config import ConfigError
results = {}
for name, path in json.loads(sys.argv[1]).items():
    os.environ["AGGREGATOR_CONFIG"] = path
    sys.modules.pop("aggregator_assets.definitions", None)
    try:
        defs = importlib.import_module("aggregator_assets.definitions").defs
        keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
        results[name] = "loaded " + " ".join(sorted(k for k in keys if "trip" in k))
    except ConfigError as exc:
        results[name] = str(exc)
print(json.dumps(results))
"""


def test_loading_the_definitions_fails_the_same_way(configs):
    paths = {name: str(path) for name, (path, _) in configs.items()}
    env = {**os.environ, "DAGSTER_HOME": ""}
    done = subprocess.run(
        [sys.executable, "-c", _LOAD, json.dumps(paths)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.splitlines()[-1])
    assert results["valid_copy"] == "loaded trip_summaries trip_summaries_external"
    for name in CASES:
        path, named = configs[name]
        assert named in results[name] and str(path) in results[name], results[name]
