"""The production instance (deploy/dagster.yaml, real Postgres) keeps its event log connection:
a run's hundreds of events do not each start a Postgres backend, and a connection Postgres
dropped is replaced without losing an event."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dagster import AssetKey, AssetMaterialization, DagsterInstance
from sqlalchemy import event

from aggregator_assets.demo.postgres import admin_sql, instance_env
from aggregator_assets.instance_storage import PooledPostgresStorage

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 60


@pytest.fixture
def instance(database, tmp_path, monkeypatch):
    for name, value in instance_env(database).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    shutil.copy(ROOT / "deploy" / "dagster.yaml", tmp_path / "dagster.yaml")
    with DagsterInstance.get() as instance:
        yield instance


def _materialize(instance: DagsterInstance, key: AssetKey, count: int) -> None:
    for i in range(count):
        instance.report_runless_asset_event(AssetMaterialization(key, metadata={"i": i}))


def _stored(instance: DagsterInstance, key: AssetKey) -> list[int]:
    records = instance.fetch_materializations(key, limit=10 * EVENTS).records
    return sorted(r.asset_materialization.metadata["i"].value for r in records)


def test_events_reuse_one_connection_per_process(instance, database):
    assert instance.get_ref().storage_data.class_name == PooledPostgresStorage.__name__
    engine = instance.event_log_storage._engine
    opened: list[object] = []
    event.listen(engine, "connect", lambda conn, _: opened.append(conn))
    key = AssetKey("pooled_probe")

    _materialize(instance, key, EVENTS)

    assert _stored(instance, key) == list(range(EVENTS)), "every event is stored, once"
    # Without the pool each event opens one connection or more; with it the process keeps one
    # (and a second while a write nests a statement), however many events it stores.
    assert len(opened) <= 2, f"{len(opened)} connections for {EVENTS} events"

    # Postgres drops every connection (a restart, an idle timeout, a DBA): the next events
    # reconnect instead of failing.
    admin_sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        f" WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )
    _materialize(instance, AssetKey("after_drop"), 3)
    assert _stored(instance, AssetKey("after_drop")) == [0, 1, 2]
    assert len(opened) <= 4, "new connections replaced the dropped ones"
