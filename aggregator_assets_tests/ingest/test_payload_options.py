"""Payload habits a topic can declare, through the real broker and the Dagster assets.

* A payload field named like a pipeline column (`event_time`, a Flink habit; `kafka_offset`,
  copied by an upstream pipeline) keeps its name and value in raw; the pipeline's column of that
  name is written as `pipeline_<name>`, and the windows, metadata and views use it.
* `event_time.timezone` reads times without a zone (Python's isoformat(), Spark) in that zone.
* The event-time field gets no window statistics unless `aggregate: true`; `aggregate: false`
  drops any numeric field's statistics.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import duckdb
import pyarrow.compute as pc
from dagster import materialize
from dagster_duckdb import DuckDBResource

from aggregator_assets.config.loader import parse_pipeline_config
from aggregator_assets.ingest.hours import raw_hour_file
from aggregator_assets.query import query_assets
from aggregator_assets.windows import windows_file
from aggregator_assets_tests.ingest.helpers import (
    BASE_HOUR,
    START,
    Sent,
    materialize_topic,
    ms,
    new_topic,
    produce,
)

SECOND_HOUR = BASE_HOUR + timedelta(hours=1)


def _config(topic: dict):
    return parse_pipeline_config({"partitions_start": START.isoformat(), "topics": [topic]})


def _local(at: datetime, sep: str = "T") -> str:
    """A zone-less time, as Python's isoformat() (T) or Spark (space, milliseconds) write it."""
    naive = at.astimezone(timezone.utc).replace(tzinfo=None)
    return naive.isoformat() if sep == "T" else naive.isoformat(" ", "milliseconds")


def test_field_named_event_time_keeps_its_name_and_value_in_raw(kafka, local_lake, tmp_path):
    name = new_topic(kafka, partitions=1)
    config = _config(
        {
            "name": name,
            # The Flink habit: the event time travels as `event_time`, here without a zone.
            "event_time": {"field": "event_time", "format": "iso8601", "timezone": "UTC"},
            "key_field": "device_id",
            "fields": {
                "device_id": {"type": "string", "required": True},
                "event_time": {"type": "string", "required": True},
                "kafka_offset": {"type": "int"},  # the offset in an upstream topic
                "value": {"type": "float"},
            },
            "windows": [{"size": "1m"}],
        }
    )
    times = [BASE_HOUR + timedelta(minutes=m, milliseconds=250 * m) for m in (1, 2, 2, 70)]
    stamps = [_local(times[0]), _local(times[1]), _local(times[2], sep=" "), _local(times[3])]
    bodies = [
        {"device_id": "d1", "event_time": stamp, "kafka_offset": 9000 + i, "value": float(i)}
        for i, stamp in enumerate(stamps)
    ]
    sent = [
        Sent(0, json.dumps(body).encode(), ms(at) + 500, at, True)
        for body, at in zip(bodies, times, strict=True)
    ]
    produce(kafka, name, sent)
    result = materialize_topic(config, kafka, local_lake, BASE_HOUR, SECOND_HOUR)
    assert result.success
    lake = local_lake.get_lake()
    raw = lake.read_table(raw_hour_file(name, BASE_HOUR))
    assert raw.schema.names == [
        "device_id",
        "event_time",
        "kafka_offset",
        "value",
        "pipeline_event_time",
        "kafka_partition",
        "pipeline_kafka_offset",
        "kafka_timestamp",
        "is_late",
    ]
    rows = raw.to_pylist()
    assert [r["event_time"] for r in rows] == stamps[:3]
    assert [r["kafka_offset"] for r in rows] == [9000, 9001, 9002]
    assert [r["pipeline_kafka_offset"] for r in rows] == [0, 1, 2]
    assert [r["pipeline_event_time"] for r in rows] == times[:3]
    assert lake.read_table(raw_hour_file(name, SECOND_HOUR))["pipeline_event_time"].to_pylist() == [
        times[3]
    ]

    [event] = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[0].startswith("raw_")
    ][:1]
    schema = event.materialization.metadata["dagster/column_schema"].schema
    assert [c.name for c in schema.columns] == raw.schema.names

    windows = lake.read_table(
        windows_file(config.topics[0], config.topics[0].windows[0], BASE_HOUR)
    )
    assert windows["window_start"].to_pylist() == [BASE_HOUR + timedelta(minutes=m) for m in (1, 2)]
    assert windows["event_count"].to_pylist() == [1, 2]
    assert windows["mean_kafka_offset"].to_pylist() == [9000.0, 9001.5]
    assert not [c for c in windows.schema.names if c.endswith("event_time")]

    database = str(tmp_path / "lake.duckdb")
    views = materialize(
        query_assets(config),
        resources={"lake": local_lake, "duckdb": DuckDBResource(database=database)},
    )
    assert views.success
    view = f"raw_{config.topics[0].asset_name}"
    with duckdb.connect(database, read_only=True) as con:
        got = con.sql(
            f"SELECT event_time, pipeline_event_time, kafka_offset, pipeline_kafka_offset, hour"
            f" FROM {view} ORDER BY pipeline_kafka_offset"
        ).fetchall()
    assert [(r[0], r[2], r[3], r[4]) for r in got] == [
        (stamp, 9000 + i, i, at.hour)
        for i, (stamp, at) in enumerate(zip(stamps, times, strict=True))
    ]
    assert [r[1] for r in got] == times


def test_event_time_field_gets_statistics_only_when_asked(kafka, local_lake):
    name = new_topic(kafka, partitions=1)
    topic = {
        "name": name,
        "event_time": {"field": "ts", "format": "epoch_ms"},
        "key_field": "source",
        "fields": {
            "source": {"type": "string", "required": True},
            "ts": {"type": "int", "required": True},
            "value1": {"type": "float"},
            "value2": {"type": "float", "aggregate": False},
        },
        "windows": [{"size": "1m"}],
    }
    at = [BASE_HOUR + timedelta(seconds=s) for s in range(0, 120, 10)]
    sent = [
        Sent(
            0,
            json.dumps({"source": "m1", "ts": ms(t), "value1": 1.0 + i, "value2": 5.0}).encode(),
            ms(t) + 100,
            t,
            True,
        )
        for i, t in enumerate(at)
    ]
    produce(kafka, name, sent)
    by_default = _config(topic)
    assert materialize_topic(by_default, kafka, local_lake, BASE_HOUR, BASE_HOUR).success
    lake = local_lake.get_lake()
    path = windows_file(by_default.topics[0], by_default.topics[0].windows[0], BASE_HOUR)
    columns = lake.read_table(path).schema.names
    assert "mean_value1" in columns
    assert not [c for c in columns if c.endswith(("_ts", "_value2"))]

    topic["fields"]["ts"]["aggregate"] = True
    asked = _config(topic)
    assert materialize_topic(asked, kafka, local_lake, BASE_HOUR, BASE_HOUR).success
    windows = lake.read_table(path)
    assert windows["min_ts"].to_pylist() == [float(ms(at[0])), float(ms(at[6]))]
    assert pc.sum(windows["count_ts"]).as_py() == len(sent)
    assert not [c for c in windows.schema.names if c.endswith("_value2")]
