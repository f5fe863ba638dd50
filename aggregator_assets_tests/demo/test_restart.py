"""A second `make dev`: the bundled broker starts with empty topics, so the previous demo's lake,
views database, instance and logs are moved aside (never deleted) and the new demo starts clean.
The whole restart, through `make dev` twice, is exercised by the UI tests' stack teardown."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from aggregator_assets.demo.stack import Settings, keep_previous_demo

NOW = datetime(2026, 11, 30, 9, 15, 2, tzinfo=timezone.utc)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder after one `make dev`, with the defaults (no LAKE_URL, DUCKDB_PATH or
    DAGSTER_HOME in the environment)."""
    for name in ("LAKE_URL", "DUCKDB_PATH", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    files = {
        "data/lake/raw/iot-events/year=2026/month=11/day=30/hour=08/part-0.parquet": b"raw",
        "data/lake/_landing/iot-events/commits/0-0.json": b"{}",
        "data/lake.duckdb": b"views",
        "data/dev/broker.log": b"broker",
        ".dagster_home/dagster.yaml": b"telemetry: {enabled: false}",
        ".dagster_home/history/runs.db": b"runs",
    }
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    return tmp_path


def _settings() -> Settings:
    return Settings(9092, 3000, 3, 30, Path("data").absolute(), Path(".dagster_home").absolute())


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_previous_demo_is_moved_aside_whole(project):
    before = _tree(project)
    kept = keep_previous_demo(_settings(), NOW)
    assert kept == project / "data" / "previous" / "20261130T091502Z"
    assert _tree(kept) == {
        name.removeprefix("data/").removeprefix("."): data for name, data in before.items()
    }, "everything the previous demo wrote is kept, nothing else"
    assert not (project / "data" / "lake").exists()
    assert not (project / ".dagster_home").exists()
    assert keep_previous_demo(_settings(), NOW) is None, "a clean folder has nothing to keep"


def test_a_lake_or_instance_of_the_users_own_is_left_alone(project, monkeypatch):
    monkeypatch.setenv("LAKE_URL", str(project / "elsewhere"))
    before = _tree(project)
    assert keep_previous_demo(_settings(), NOW) is None
    assert _tree(project) == before
    monkeypatch.delenv("LAKE_URL")
    monkeypatch.setenv("DUCKDB_PATH", str(project / "data" / "lake.duckdb"))
    other_home = Settings(9092, 3000, 3, 30, Path("data").absolute(), project / "my_home")
    kept = keep_previous_demo(other_home, NOW)
    assert kept is not None and (kept / "lake").is_dir()
    assert (project / "data" / "lake.duckdb").exists(), "DUCKDB_PATH was set by the user"
    assert (project / ".dagster_home" / "dagster.yaml").exists(), "not the demo's instance"
