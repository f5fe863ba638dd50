"""What a user sees in the Dagster UI after `make dev`, checked in headless Chromium.

Each test opens one view, asserts on the rendered page (text and DOM, not the API) and saves
the picture the README shows. Run: `.venv/bin/pytest -m ui aggregator_assets_tests/ui`
(`UI_SCREENSHOT_DIR=docs/img` to refresh docs/img/).
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request

import pytest

pytestmark = [pytest.mark.ui, pytest.mark.timeout(600)]

LINEAGE_SELECTION = "group:iot_events or group:vehicle_can"
EXPECTED_EDGES = {
    ("kafka_iot_events", "raw_iot_events"),
    ("raw_iot_events", "windows_iot_events_1m"),
    ("raw_iot_events", "windows_iot_events_5m"),
    ("kafka_vehicle_can", "raw_vehicle_can"),
    ("raw_vehicle_can", "trip_summaries"),
    ("raw_vehicle_can", "windows_vehicle_can_1m"),
}
WINDOW_ASSET = "windows_iot_events_1m"
WINDOW_CHECKS = ["no_null_keys", "window_counts_match_raw", "windows_inside_hour"]

# The rendered graph: each asset node is an SVG <foreignObject> whose text starts with the
# asset name, each edge a <path marker-end> from the middle of the right side of its source
# to the left side of its target.
GRAPH_DOM = """() => ({
  nodes: Array.from(document.querySelectorAll('svg foreignObject')).map(f => ({
    text: f.textContent || '', x: +f.getAttribute('x'), y: +f.getAttribute('y'),
    w: +f.getAttribute('width'), h: +f.getAttribute('height')})),
  edges: Array.from(document.querySelectorAll('svg path[marker-end]'))
    .map(p => p.getAttribute('d')),
})"""


def _rendered_lineage(dom: dict, names: set[str]) -> tuple[set[str], set[tuple[str, str]]]:
    boxes = {}
    for node in dom["nodes"]:
        match = re.match(r"[a-z0-9_]+", node["text"])  # the name, then "Latest event ..."
        if match and match.group(0) in names:
            boxes[match.group(0)] = node

    def at(x: float, y: float, side: str) -> str | None:
        for name, b in boxes.items():
            edge_x = b["x"] + b["w"] if side == "right" else b["x"]
            if abs(edge_x - x) <= 8 and b["y"] <= y <= b["y"] + b["h"]:
                return name
        return None

    edges = set()
    for d in dom["edges"]:
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
        source, target = at(*numbers[:2], "right"), at(*numbers[-2:], "left")
        if source and target:
            edges.add((source, target))
    return set(boxes), edges


def _graphql_edges(url: str, names: set[str]) -> set[tuple[str, str]]:
    query = "{ assetNodes { assetKey { path } dependencyKeys { path } } }"
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        nodes = json.load(response)["data"]["assetNodes"]
    return {
        (dep["path"][-1], node["assetKey"]["path"][-1])
        for node in nodes
        for dep in node["dependencyKeys"]
        if node["assetKey"]["path"][-1] in names and dep["path"][-1] in names
    }


def test_asset_graph_shows_topic_to_raw_to_windows_and_trips(page, demo_stack, screenshots):
    selection = urllib.parse.quote(LINEAGE_SELECTION)
    page.goto(f"/asset-groups~{selection}/")
    page.get_by_text("iot_events", exact=True).first.wait_for()
    page.keyboard.press("Alt+KeyE")  # "expand all groups"; remembered by the browser
    page.get_by_text("kafka_iot_events", exact=True).first.wait_for()
    page.reload()  # the first layout after a load fits the expanded graph in the window
    page.get_by_text(WINDOW_ASSET, exact=True).first.wait_for()
    page.get_by_text("3 / 3 Passed").first.wait_for()
    names = {name for edge in EXPECTED_EDGES for name in edge}
    shown, edges = _rendered_lineage(page.evaluate(GRAPH_DOM), names)
    page.screenshot(path=screenshots / "asset-graph.png")
    assert names <= shown, f"nodes missing from the graph: {names - shown}"
    assert edges >= EXPECTED_EDGES, f"edges missing from the graph: {EXPECTED_EDGES - edges}"
    assert {e for e in edges if set(e) <= names} == _graphql_edges(demo_stack.url, names)


def test_raw_partitions_show_the_ingested_hours(page, demo_stack, screenshots):
    hours = demo_stack.hours
    page.goto("/assets/raw_iot_events?view=partitions")
    page.get_by_text(re.compile(r"^Missing \(\d+\)$")).click()  # list materialized hours only
    page.get_by_text(re.compile(r"^Materialized \(\d+\)$")).wait_for()
    materialized = page.get_by_text(re.compile(r"^Materialized \(\d+\)$")).inner_text()
    assert int(re.search(r"\d+", materialized).group(0)) >= len(hours)
    for hour in hours:
        page.get_by_text(hour, exact=True).filter(visible=True).first.wait_for()
    page.get_by_text(hours[-1], exact=True).filter(visible=True).last.click()
    page.get_by_text("rows_quarantined").wait_for()  # the hour's materialization metadata
    assert page.get_by_text("No partition selected").count() == 0
    assert "quarantined_by_reason" in page.inner_text("body")
    page.screenshot(path=screenshots / "raw-partitions.png")


def test_window_materialization_shows_its_plot(page, screenshots):
    page.goto(f"/assets/{WINDOW_ASSET}?view=events")
    page.get_by_text("plot", exact=True).first.wait_for()
    page.get_by_text("[Show Markdown]").last.click()
    # The plot's dialog: Dagster's first-visit "Join the Dagster community" dialog can open
    # beside it before the page's Skip handler gets to it.
    dialog = page.get_by_role("dialog").filter(has_text="mean and min-max band")
    image = dialog.locator("img")
    image.wait_for()
    assert image.get_attribute("src").startswith("data:image/png;base64,")
    assert image.evaluate("img => img.complete && img.naturalWidth > 100")
    assert "mean and min-max band" in dialog.inner_text()
    page.screenshot(path=screenshots / "window-plot.png")


def test_window_checks_pass(page, screenshots):
    page.goto(f"/assets/{WINDOW_ASSET}?view=checks")
    for check in WINDOW_CHECKS:  # each entry of the list: the name, then its latest status
        name = page.get_by_text(check, exact=True).first
        name.wait_for()
        entry = name.locator("xpath=ancestor::*[contains(., 'Succeeded')][1]").inner_text()
        assert [c for c in WINDOW_CHECKS if c in entry] == [check], f"{check}: {entry}"
    page.get_by_text("window_counts_match_raw", exact=True).first.click()
    page.get_by_text("sum to the raw hour's row count").first.wait_for()  # its description
    page.get_by_text("Passed", exact=True).first.wait_for()
    page.screenshot(path=screenshots / "checks.png")


def test_freshness_is_shown(page, screenshots):
    page.goto("/assets/raw_iot_events")
    status = page.get_by_text("Freshness policy").first
    status.wait_for()
    page.get_by_text("Fails if more than 2 hours since last materialization").wait_for()
    section = status.locator("xpath=..")
    assert "Passing" in section.inner_text(), section.inner_text()
    page.screenshot(path=screenshots / "freshness.png")
