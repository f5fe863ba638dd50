"""The local Postgres (127.0.0.1:5432, trust auth) that the production-stack test and benchmarks
give `dagster-daemon` as its instance storage: a throw-away database per run, and the
`DAGSTER_PG_*` variables `deploy/dagster.yaml` reads."""

from __future__ import annotations

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}


def admin_sql(sql: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
    import psycopg2  # a test and benchmark dependency, not the code location's

    conn = psycopg2.connect(**PG, connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def instance_env(database: str) -> dict[str, str]:
    """The `DAGSTER_PG_*` variables of `deploy/dagster.yaml` for `database` (trust auth)."""
    return {
        "DAGSTER_PG_HOST": str(PG["host"]),
        "DAGSTER_PG_PORT": str(PG["port"]),
        "DAGSTER_PG_DB": database,
        "DAGSTER_PG_USER": str(PG["user"]),
        "DAGSTER_PG_PASSWORD": "",
    }
