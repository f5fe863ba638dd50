"""The demo stack as `make dev` starts it (scripts/dev.sh), on free ports and in temp folders,
and a headless Chromium (Debian's `chromium` package) driven by Playwright."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from aggregator_assets.demo.broker import free_port
from aggregator_assets_tests.processes import stop_group

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Without the background-networking flags Chromium's own connections are refused on a closed
# network and slow every page down.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_HOURS = 3
DEMO_RATE = 5  # events/s of event time over all topics: ~90k records, ~20 s to produce
STACK_START_S = 360  # produce + ingest + `dagster dev` on a busy 2-core machine
PAGE_TIMEOUT_MS = 90_000
HOUR_KEY = "%Y-%m-%d-%H:%M"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "ui: starts the `make dev` stack and drives headless Chromium (minutes)"
    )


@dataclass
class DemoStack:
    url: str
    log: Path
    hours: list[str]  # the raw hours `scripts/materialize_demo_hours.py` ingested

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def _demo_hour_keys(log_text: str) -> list[str]:
    match = re.search(r"raw_\w+.*: (\S+) \.\. (\S+)\n", log_text)
    assert match, "scripts/materialize_demo_hours.py printed no hourly range"
    first, last = (
        datetime.strptime(k, HOUR_KEY).replace(tzinfo=timezone.utc) for k in match.groups()
    )
    keys = []
    while first <= last:
        keys.append(first.strftime(HOUR_KEY))
        first += timedelta(hours=1)
    return keys


def _stop(proc: subprocess.Popen) -> None:
    """Ctrl-C to the process group dev.sh leads (dagster dev and its webserver, daemon and code
    server), as a user would; then SIGTERM (the background broker ignores SIGINT, as background
    jobs of a script do); then SIGKILL to anything left."""
    stop_group(proc, (signal.SIGINT, signal.SIGTERM), wait_s=60)


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory) -> DemoStack:
    """`scripts/dev.sh` with DEMO_HOURS=3 at a modest rate: broker, demo data, the closed hours
    ingested into a temp $DAGSTER_HOME and lake, then `dagster dev` on a free port."""
    tmp = tmp_path_factory.mktemp("ui_stack")
    port = free_port()
    env = os.environ | {
        "KAFKA_PORT": str(free_port()),
        "DAGSTER_PORT": str(port),
        "DEMO_HOURS": str(DEMO_HOURS),
        "DEMO_RATE": str(DEMO_RATE),
        "DEMO_VEHICLE_HOURS": str(DEMO_HOURS),
        "LAKE_URL": str(tmp / "lake"),
        "DUCKDB_PATH": str(tmp / "lake.duckdb"),
        "DAGSTER_HOME": str(tmp / "dagster_home"),
        "BROKER_LOG": str(tmp / "broker.log"),
        "PYTHONWARNINGS": "ignore",
    }
    log_path = tmp / "dev.log"
    log = open(log_path, "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "dev.sh")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STACK_START_S
        while True:
            assert proc.poll() is None, f"scripts/dev.sh exited:\n{log_path.read_text()[-4000:]}"
            assert time.monotonic() < deadline, (
                f"no webserver on {url} after {STACK_START_S}s:\n{log_path.read_text()[-4000:]}"
            )
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            time.sleep(2)
        yield DemoStack(url, log_path, _demo_hour_keys(log_path.read_text(errors="replace")))
    finally:
        _stop(proc)
        log.close()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, demo_stack):
    """A fresh tab 1500x1300 (the lineage of two groups fits); the first-visit "Join the
    Dagster community" dialog is skipped whenever it shows up."""
    context = browser.new_context(viewport={"width": 1500, "height": 1300}, base_url=demo_stack.url)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """Where the pictures go: $UI_SCREENSHOT_DIR (docs/img to refresh the README's), else a
    temp folder, so `make test` leaves the tree clean."""
    folder = os.environ.get("UI_SCREENSHOT_DIR")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
