"""A topic with windows and records around the current hour, for the live tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import duckdb
import pyarrow as pa

from aggregator_assets.config import PipelineConfig
from aggregator_assets_tests.ingest.helpers import (
    Sent,
    event,
    ms,
    one_topic_pipeline,
    topic_entry,
)

HOUR = timedelta(hours=1)


def windowed_pipeline(
    topic_name: str, lateness: str = "5m", sizes: tuple[str, ...] = ("1m", "5m"), **extra
) -> PipelineConfig:
    """The ingest tests' topic (no flag) with windows and a low-battery domain count."""
    low_battery = {"field": "battery_level", "op": "<", "value": 20}
    windows = {
        "windows": [{"size": size} for size in sizes],
        "domain_counts": {"low_battery_count": low_battery},
    }
    return one_topic_pipeline(topic_entry(topic_name, lateness) | windows | extra)


def records_between(first: datetime, last: datetime, count: int, seed: int = 0) -> list[Sent]:
    """`count` valid records spread evenly over [first, last), plus two invalid ones; values
    with many decimals so float sums depend on their order."""
    out = []
    step = (last - first) / count
    for i in range(count):
        at = first + step * i
        value = (i * 7919 + seed) % 1000 / 7.0 + 1e9 * (i % 3 == 0)
        body = event(f"d{i % 5}", at, value, battery=(i * 13) % 100)
        out.append(Sent(i % 3, body, ms(at + timedelta(seconds=1)), at, True))
    out.append(Sent(0, b"{broken", ms(first), None, False))
    out.append(Sent(1, event("d1", first, 1.0, battery=400), ms(first), None, False))
    return out


def now_hour() -> datetime:
    return datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)


def query(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    return con.sql(sql).to_arrow_table()
