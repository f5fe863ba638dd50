"""live_/recent_ views against the real broker, on a local and an S3 lake: live rows are what
the sealed hour later holds, and no record is in both parts of one recent_ query."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from aggregator_assets.ingest.hours import build_hour
from aggregator_assets.ingest.landing import Landing
from aggregator_assets.live.tail import tail_topic
from aggregator_assets.query.views import create_lake_views
from aggregator_assets_tests.ingest.helpers import new_topic, produce
from aggregator_assets_tests.live.helpers import (
    HOUR,
    now_hour,
    query,
    records_between,
    windowed_pipeline,
)

ORDER = "ORDER BY kafka_partition, kafka_offset"


def _tail(kafka, store, topic, config):
    with kafka.consumer() as consumer:
        return tail_topic(consumer, store, topic, config)


def _seal(store, topic, hour):
    landing = Landing(store, topic.name)
    return build_hour(store, landing, topic, hour, landing.cover())


def _views(store, config) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    create_lake_views(con, store, config)
    return con


def _no_hive(table: pa.Table) -> pa.Table:
    hive = ("year", "month", "day", "hour")
    return table.drop_columns([c for c in hive if c in table.schema.names])


@pytest.mark.parametrize("where", ["local", "s3"])
def test_live_rows_are_what_the_sealed_hour_later_holds(kafka, local_lake, s3_lake, where):
    store = (local_lake if where == "local" else s3_lake).get_lake()
    name = new_topic(kafka)
    config = windowed_pipeline(name)
    topic = config.topics[0]
    h0, h1, h2 = now_hour() - 3 * HOUR, now_hour() - 2 * HOUR, now_hour() - HOUR
    # An hour sealed before the views exist: a topic's very first sealed file is seen by
    # views created after it (see live/views.py).
    older = records_between(h0, h1, 10)[:-2]
    produce(kafka, name, older)
    _tail(kafka, store, topic, config)
    _seal(store, topic, h0)
    first = records_between(h1, h2 + HOUR, 60)
    produce(kafka, name, first)
    valid = sum(s.valid for s in first)

    done = _tail(kafka, store, topic, config)
    assert done.landed_records == len(first) and done.lag_records == 0
    con = _views(store, config)
    live = query(con, f"SELECT * FROM live_{topic.asset_name} {ORDER}")
    assert live.num_rows == valid
    bad = query(con, f"SELECT count(*) n FROM live_quarantine_{topic.asset_name}")
    assert bad["n"][0].as_py() == 2
    for size in ("1m", "5m"):  # provisional windows of h1 and h2: every live row counted once
        counted = query(
            con, f"SELECT sum(event_count) n FROM live_windows_{topic.asset_name}_{size}"
        )
        assert counted["n"][0].as_py() == valid
    valid += len(older)  # recent_ holds the sealed hour h0 too
    assert query(con, f"SELECT count(*) n FROM recent_{topic.asset_name}")["n"][0].as_py() == valid

    # Seal h1 without refreshing the views: the same query now takes h1 from the sealed file.
    _seal(store, topic, h1)
    fresh = _views(store, config)
    # S3 datasets list their files when the views are created; local views read at query time.
    con_s3_fresh = fresh if where == "s3" else con
    sealed_h1 = query(fresh, f"SELECT * FROM raw_{topic.asset_name} WHERE hour = {h1.hour} {ORDER}")
    live_h1 = live.filter(pa.compute.equal(live["hour"], h1.hour))
    assert sealed_h1.num_rows == live_h1.num_rows > 0
    assert (
        _no_hive(sealed_h1).to_pylist()
        == _no_hive(live_h1).select(_no_hive(sealed_h1).schema.names).to_pylist()
    )
    after = query(con_s3_fresh, f"SELECT hour FROM live_{topic.asset_name}")
    assert set(after["hour"].to_pylist()) == {h2.hour}
    recent = query(
        con_s3_fresh,
        f"SELECT count(*) n, count(DISTINCT (kafka_partition, kafka_offset)) d"
        f" FROM recent_{topic.asset_name}",
    )
    assert recent["n"][0].as_py() == recent["d"][0].as_py() == valid

    # Late records for the sealed hour h1 and more of h2: live again until sealed.
    late = (
        records_between(h1 + HOUR / 2, h1 + HOUR, 6, seed=3)[:-2]
        + records_between(h2, h2 + HOUR, 9, seed=5)[:-2]
    )
    produce(kafka, name, late)
    _tail(kafka, store, topic, config)
    con = _views(store, config)
    live = query(con, f"SELECT * FROM live_{topic.asset_name} {ORDER}")
    assert live.num_rows == valid - len(older) - live_h1.num_rows + len(late)
    for hour in (h1, h2):
        _seal(store, topic, hour)
    if where == "s3":
        con = _views(store, config)
    raw = query(con, f"SELECT * FROM raw_{topic.asset_name} {ORDER}")
    assert raw.num_rows == valid + len(late)
    keyed = {(r["kafka_partition"], r["kafka_offset"]): r for r in _no_hive(raw).to_pylist()}
    for row in _no_hive(live).to_pylist():
        assert keyed[(row["kafka_partition"], row["kafka_offset"])] == row
    assert query(con, f"SELECT count(*) n FROM live_{topic.asset_name}")["n"][0].as_py() == 0
    recent = query(
        con,
        f"SELECT count(*) n, count(DISTINCT (kafka_partition, kafka_offset)) d"
        f" FROM recent_{topic.asset_name}",
    )
    assert recent["n"][0].as_py() == recent["d"][0].as_py() == valid + len(late)
