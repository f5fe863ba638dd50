import uuid

import pytest

from aggregator_assets.demo.postgres import admin_sql


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "e2e: starts dagster-daemon, Postgres storage, broker and producer (minutes)"
    )


@pytest.fixture
def database():
    """A throw-away database on the local Postgres (127.0.0.1:5432, trust auth)."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        name = f"dagster_e2e_{uuid.uuid4().hex[:8]}"
        admin_sql(f"CREATE DATABASE {name}")
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no Postgres on 127.0.0.1:5432: {exc}")
    yield name
    admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
