"""The README's and docs' commands, run as written in a second terminal while `make dev` runs,
against the same instance the UI shows (checked through the webserver's GraphQL API)."""

from __future__ import annotations

import json
import subprocess
import urllib.request

import pytest

from aggregator_assets_tests.docs_commands import doc_block

pytestmark = [pytest.mark.ui, pytest.mark.timeout(600)]

MAX_LOG_LINES = 150
RUNS_QUERY = """{ runsOrError { ... on Runs { results {
  runId status tags { key value } assetSelection { path } } } } }"""


def _run_block(stack, anchor: str, language: str = "bash") -> subprocess.CompletedProcess:
    """Run the doc block as a reader would in the project folder: only the broker's port is
    exported (the stack runs on free ports, not 9092), nothing else of the stack's settings."""
    block = doc_block(anchor)
    env = {k: v for k, v in stack.env.items() if k not in {"DAGSTER_HOME", "VIRTUAL_ENV"}}
    env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{stack.env['KAFKA_PORT']}"
    argv = (
        ["bash", "-euo", "pipefail", "-c", block.text]
        if language == "bash"
        else [str(stack.project / ".venv" / "bin" / "python"), "-c", block.text]
    )
    done = subprocess.run(
        argv, cwd=stack.project, env=env, capture_output=True, text=True, timeout=500
    )
    assert done.returncode == 0, f"{block.where}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def _ui_runs(stack) -> list[dict]:
    request = urllib.request.Request(
        f"{stack.url}/graphql",
        data=json.dumps({"query": RUNS_QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)["data"]["runsOrError"]["results"]


def _cli_runs(stack) -> list[dict]:
    """Runs the UI lists that no sensor launched (the daemon's runs go on beside ours)."""
    return [
        r for r in _ui_runs(stack) if not any(t["key"] == "dagster/sensor_name" for t in r["tags"])
    ]


def _runs_of(stack, asset: str) -> list[dict]:
    return [
        r for r in _cli_runs(stack) if [asset] in [s["path"] for s in r["assetSelection"] or []]
    ]


def test_make_dev_log_is_short_and_readable(demo_stack):
    text = demo_stack.log.read_text(errors="replace")
    lines = text.splitlines()
    assert len(lines) < MAX_LOG_LINES, text[-4000:]
    for phase in ("1/4", "2/4", "3/4", "4/4", "Dagster UI on"):
        assert any(phase in line for line in lines), f"no {phase!r} line:\n{text}"
    for noise in ("DEBUG", "Warning", "STEP_", "ASSET_MATERIALIZATION"):
        assert noise not in text, f"{noise!r} in the make dev log:\n{text[-4000:]}"


def test_readme_cli_backfill_is_a_run_the_ui_shows(demo_stack):
    before = {r["runId"] for r in _runs_of(demo_stack, "raw_iot_events")}
    _run_block(demo_stack, "--partition-range")
    new = [r for r in _runs_of(demo_stack, "raw_iot_events") if r["runId"] not in before]
    assert len(new) == 1 and new[0]["status"] == "SUCCESS", new
    tags = {t["key"]: t["value"] for t in new[0]["tags"]}
    first, last = (
        tags["dagster/asset_partition_range_start"],
        tags["dagster/asset_partition_range_end"],
    )
    # The range holds demo data: both hours were ingested by `make dev`.
    assert first in demo_stack.hours and last in demo_stack.hours, (first, last)


def test_operations_cli_backfills_are_runs_the_ui_shows(demo_stack):
    before = {r["runId"] for r in _cli_runs(demo_stack)}
    _run_block(demo_stack, "--select trip_summaries --partition")
    new = [r for r in _cli_runs(demo_stack) if r["runId"] not in before]
    selected = sorted(tuple(s["path"]) for r in new for s in r["assetSelection"] or [])
    assert ("trip_summaries",) in selected and ("raw_iot_events",) in selected, selected
    assert all(r["status"] == "SUCCESS" for r in new), new


def test_readme_duckdb_snippet_queries_the_views(demo_stack):
    out = _run_block(demo_stack, "quarantine_iot_events GROUP BY reason", language="python")
    assert "reason" in out.stdout and "malformed_json" in out.stdout, out.stdout


def test_readme_console_commands(demo_stack):
    out = _run_block(demo_stack, "aggregator-assets config-check my-config")
    assert "iot-events: " in out.stdout and "raw_iot_events" in out.stdout, out.stdout
    assert "trips (from raw_vehicle_can)" in out.stdout, out.stdout
