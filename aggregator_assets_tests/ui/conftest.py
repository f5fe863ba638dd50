"""The demo stack as `make dev` starts it, in a copy of the project (so the README's relative
paths are exercised as written without touching the checkout's data/), on free ports, and a
headless Chromium (Debian's `chromium` package) driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import pytest

from aggregator_assets.demo.broker import free_port
from aggregator_assets_tests.docs_commands import doc_block
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
DEMO_RATE = 5  # events/s of event time over the non-vehicle topics
STACK_START_S = 360  # produce + ingest + webserver on a busy 2-core machine
STOP_S = 10  # Ctrl-C / SIGTERM to `make dev` stops every process of the stack within this
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
    hours: list[str]  # the raw iot hours `make dev` ingested
    project: Path  # the copy of the project `make dev` runs in
    env: dict[str, str]  # ports of this stack, as a user would export them
    proc: subprocess.Popen

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self) -> tuple[float, list[str]]:
        """SIGTERM to the process group of `make dev`, as a terminal's Ctrl-C or a supervisor
        would send it; (seconds until every process of the stack was gone, those left)."""
        procs = _stack_processes(self.project)
        started = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(procs, timeout=60)
        return time.monotonic() - started, [" ".join(p.cmdline()) for p in alive]


def _stack_processes(project: Path) -> list[psutil.Process]:
    """Live processes started from `project` (their cwd) or naming it, and their children."""
    found = {}
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        with contextlib.suppress(psutil.Error):
            cmdline = " ".join(proc.info["cmdline"] or [])
            if str(project) in cmdline or proc.info["cwd"] == str(project):
                for p in [proc, *proc.children(recursive=True)]:
                    found[p.pid] = p
    return list(found.values())


def copy_project(target: Path) -> Path:
    """The project's tracked and new (not ignored) files, with their times, and the checkout's
    `.venv`. `make` must see that install as current: a `uv sync` in the copy would point the
    shared environment's editable install at the copy."""
    stamp = ROOT / ".venv" / ".installed"
    locks = [ROOT / "pyproject.toml", ROOT / "uv.lock"]
    assert stamp.exists() and all(stamp.stat().st_mtime >= f.stat().st_mtime for f in locks), (
        "the environment is older than pyproject.toml/uv.lock: run `make install` first"
    )
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / name.decode()
        if source.is_file():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())
    (target / ".venv").symlink_to(ROOT / ".venv")
    return target


def _demo_hour_keys(log_text: str) -> list[str]:
    match = re.search(r"raw_iot_events.*: (\S+) \.\. (\S+) ", log_text)
    assert match, "make dev printed no hourly range for raw_iot_events"
    first, last = (
        datetime.strptime(k, HOUR_KEY).replace(tzinfo=timezone.utc) for k in match.groups()
    )
    keys = []
    while first <= last:
        keys.append(first.strftime(HOUR_KEY))
        first += timedelta(hours=1)
    return keys


def _make_dev(project: Path, env: dict[str, str], log_path: Path, url: str) -> subprocess.Popen:
    """The README's `make dev` in `project`, in its own process group, once its UI answers."""
    make_dev = doc_block("make dev    #").text.splitlines()[0].split("#")[0].split()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            make_dev,
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + STACK_START_S
    try:
        while "Dagster UI on" not in log_path.read_text(errors="replace"):  # once it answers
            assert proc.poll() is None, f"make dev exited:\n{log_path.read_text()[-4000:]}"
            assert time.monotonic() < deadline, (
                f"no webserver on {url} after {STACK_START_S}s:\n{log_path.read_text()[-4000:]}"
            )
            time.sleep(2)
    except BaseException:
        stop_group(proc, (signal.SIGTERM,), wait_s=10)
        raise
    return proc


def _assert_stops(stack: DemoStack) -> None:
    stopped_s, left = stack.stop()
    assert not left and stopped_s <= STOP_S, (
        f"SIGTERM to make dev: {len(left)} processes left after {stopped_s:.1f}s: {left}"
    )


@pytest.fixture(scope="package")
def demo_stack(tmp_path_factory) -> DemoStack:
    """`make dev` in a copy of the project, with DEMO_HOURS=3 at a modest rate and the ports a
    user would pick when 9092 and 3000 are taken. On teardown, SIGTERM to its process group must
    stop every process of the stack within STOP_S; then a second `make dev` in the same folder
    (new, empty topics in the bundled broker) must reach its UI again, with the first demo kept
    in data/previous/, and stop the same way."""
    project = copy_project(tmp_path_factory.mktemp("project"))
    port = free_port()
    ports = {"KAFKA_PORT": str(free_port()), "DAGSTER_PORT": str(port)}
    env = {k: v for k, v in os.environ.items() if k not in {"DAGSTER_HOME", "LAKE_URL"}}
    env |= ports | {"DEMO_HOURS": str(DEMO_HOURS), "DEMO_RATE": str(DEMO_RATE)}
    url = f"http://127.0.0.1:{port}"
    log_path = project / "make-dev.log"
    proc = _make_dev(project, env, log_path, url)
    try:
        hours = _demo_hour_keys(log_path.read_text(errors="replace"))
        stack = DemoStack(url, log_path, hours, project, env, proc)
        yield stack
        _assert_stops(stack)
        again = project / "make-dev-again.log"
        proc = _make_dev(project, env | {"DEMO_HOURS": "1"}, again, url)
        restarted = DemoStack(url, again, hours, project, env, proc)
        kept = list((project / "data" / "previous").glob("*/lake/raw/iot-events"))
        assert "the previous demo is kept in" in again.read_text() and len(kept) == 1, (
            restarted.log_tail()
        )
        assert (project / "data" / "lake" / "raw" / "iot-events").is_dir(), "a new lake landed"
        _assert_stops(restarted)
    finally:
        stop_group(proc, (signal.SIGTERM,), wait_s=10)


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
