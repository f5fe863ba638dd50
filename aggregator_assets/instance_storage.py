"""Postgres instance storage whose event log keeps one connection per process.

`deploy/dagster.yaml` names `PooledPostgresStorage` as its `storage: custom:` class. It is
dagster-postgres's storage with one change: dagster-postgres opens a new connection for every
statement (SQLAlchemy `NullPool`) so that no process holds one open, and every log line,
materialization and check result of a run is an event row. A batch run of 50 topics writes
hundreds of them, and a new connection costs a Postgres backend start: measured here, 4.1 ms
wall per statement against 0.17 ms on a kept connection (`docs/operations.md`, "Many topics").

The event log's engine keeps one idle connection per process (the daemon, each code server,
each run, the webserver), with no limit on extra connections a busy process opens at once
(those are closed when returned, as before), checked before use so that a Postgres restart
costs a reconnect, not an error. Runs and schedules, written a few times per run or tick, keep
dagster-postgres's own engines.
"""

from __future__ import annotations

from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
)

POOL: dict[str, Any] = {
    "pool_size": 1,
    "max_overflow": -1,  # never make a thread wait for a connection
    "pool_recycle": 3600,
    "pool_pre_ping": True,
}


class PooledPostgresStorage(DagsterPostgresStorage):
    """`DagsterPostgresStorage` with a pooled event log engine (same config schema)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        events = self._event_log_storage
        events._engine.dispose()
        events._engine = create_pg_engine(
            events.postgres_url,
            events._token_provider,  # however it was passed to the constructor
            isolation_level="AUTOCOMMIT",
            **POOL,
        )

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Any
    ) -> PooledPostgresStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
