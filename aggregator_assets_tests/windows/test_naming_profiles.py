"""`window_naming: kafka-aggregator`: the observatory's dashboards read our windows unchanged.

Telemetry goes through the real broker, the raw asset and the windows assets (Dagster), on a
local and an S3 (moto) lake; the windows must carry exactly kafka-aggregator's columns with the
values an independent pandas computation gives, the checks and plot must work, and the DuckDB
views must serve them.
"""

from __future__ import annotations

import json
from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster import materialize
from dagster_duckdb import DuckDBResource
from windows_testdata import materializations, pandas_window_stats

from aggregator_assets.config.loader import parse_pipeline_config
from aggregator_assets.ingest.hours import raw_hour_file
from aggregator_assets.query import create_lake_views, query_assets
from aggregator_assets.resources import KafkaResource
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

OPS = ("min", "mean", "median", "stdev", "max")
CHECKS = {"window_counts_match_raw", "no_null_keys", "windows_inside_hour"}


def _observatory(name: str, naming: str):
    return parse_pipeline_config(
        {
            "partitions_start": START.isoformat(),
            "topics": [
                {
                    "name": name,
                    "event_time": {"field": "ts", "format": "epoch_ms"},
                    "key_field": "source",
                    "fields": {
                        "source": {"type": "string", "required": True},
                        "ts": {"type": "int", "required": True},
                        "value1": {"type": "float"},
                        "value2": {"type": "int"},
                    },
                    "windows": [{"size": "1s"}, {"size": "1m"}],
                    "window_naming": naming,
                }
            ],
        }
    )


@pytest.fixture(scope="module")
def telemetry(broker):
    """About 10 Hz from two mount sensors for two minutes, produced once."""
    kafka = KafkaResource(bootstrap_servers=broker.bootstrap, request_timeout_ms=10_000)
    name = new_topic(kafka, partitions=2)
    rng = np.random.default_rng(5)
    sent = []
    for i in range(2400):
        at = BASE_HOUR + timedelta(milliseconds=int(i * 50 + rng.integers(0, 40)))
        body = {"source": f"mount-{i % 2}", "ts": ms(at), "value1": float(rng.normal(10, 2))}
        if i % 7:
            body["value2"] = int(rng.integers(-5, 5))
        sent.append(Sent(i % 2, json.dumps(body).encode(), ms(at) + 200, at, True))
    produce(kafka, name, sent)
    return name, len(sent)


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["source", "time"]).reset_index(drop=True)


@pytest.mark.parametrize("lake_fixture", ["local_lake", "s3_lake"])
def test_kafka_aggregator_columns_through_broker_and_assets(
    kafka, telemetry, lake_fixture, request
):
    name, produced = telemetry
    lake_resource = request.getfixturevalue(lake_fixture)
    config = _observatory(name, "kafka-aggregator")
    topic = config.topics[0]
    result = materialize_topic(config, kafka, lake_resource, BASE_HOUR, BASE_HOUR)
    assert result.success
    lake = lake_resource.get_lake()
    raw = lake.read_table(raw_hour_file(name, BASE_HOUR))
    assert raw.num_rows == produced

    for window in topic.windows:
        written = lake.read_table(windows_file(topic, window, BASE_HOUR))
        assert written.schema.names == [
            "source",
            "time",
            "window_size",
            "count",
            *[f"{op}_{field}" for field in ("value1", "value2") for op in OPS],
        ]
        assert str(written.schema.field("time").type) == "double"
        assert written["window_size"].to_pylist() == [float(window.seconds)] * written.num_rows
        got = _sorted(written.to_pandas())
        want = _sorted(pandas_window_stats(raw, topic, window.seconds))
        exact = ["source", "time", "window_size", "count", "min_value1", "max_value2"]
        pd.testing.assert_frame_equal(got[exact], want[exact], check_dtype=False)
        np.testing.assert_allclose(
            got.drop(columns=exact).to_numpy(float),
            want.drop(columns=exact).to_numpy(float),
            rtol=1e-12,
            equal_nan=True,
        )
        # `time` is the window's midpoint in epoch seconds, as kafka-aggregator writes it.
        start = BASE_HOUR.timestamp()
        assert ((got["time"] - start - window.seconds / 2) % window.seconds == 0).all()

        key = f"windows_{topic.asset_name}_{window.name}"
        md = materializations(result, key)[0].metadata
        assert [c.name for c in md["dagster/column_schema"].schema.columns] == written.schema.names
        assert "data:image/png;base64," in md["plot"].value
        checks = {
            e.check_name: e
            for e in result.get_asset_check_evaluations()
            if e.asset_key.to_user_string() == key
        }
        assert set(checks) == CHECKS and all(c.passed for c in checks.values())
        assert (
            checks["window_counts_match_raw"].metadata["window_event_count_sum"].value == produced
        )

    with duckdb.connect() as con:
        created = create_lake_views(con, lake, config)["created"]
        view = f"windows_{topic.asset_name}_1s"
        assert view in created
        total, windows, mean = con.sql(
            f"SELECT sum(count), count(*), avg(mean_value1) FROM {view} WHERE window_size = 1"
        ).fetchall()[0]
        first = con.sql(f"SELECT min(to_timestamp(time)) FROM {view}").fetchall()[0][0]
    assert total == produced and windows > 200 and 8 < mean < 12
    assert first == BASE_HOUR + timedelta(milliseconds=500)


def test_default_naming_is_unchanged_on_the_same_data(kafka, telemetry, local_lake, tmp_path):
    name, produced = telemetry
    config = _observatory(name, "default")
    topic = config.topics[0]
    assert materialize_topic(config, kafka, local_lake, BASE_HOUR, BASE_HOUR).success
    written = local_lake.get_lake().read_table(windows_file(topic, topic.windows[1], BASE_HOUR))
    stats = ("count", "min", "max", "mean", "median", "stddev", "sum", "avg")
    assert written.schema.names == [
        "source",
        "window_start",
        "window_end",
        "event_count",
        *[f"{s}_{field}" for field in ("value1", "value2") for s in stats],
    ]
    database = str(tmp_path / "lake.duckdb")
    views = materialize(
        query_assets(config),
        resources={"lake": local_lake, "duckdb": DuckDBResource(database=database)},
    )
    assert views.success
    with duckdb.connect(database, read_only=True) as con:
        total = con.sql(f"SELECT sum(event_count) FROM windows_{topic.asset_name}_1m").fetchall()[0]
    assert total[0] == produced
