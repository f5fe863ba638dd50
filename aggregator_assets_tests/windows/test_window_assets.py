"""Materialize the windows assets with Dagster on local and S3 (moto) lakes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import duckdb
import pyarrow as pa
import pytest
from dagster import DagsterInstance, materialize
from dagster_duckdb import DuckDBResource
from windows_testdata import make_raw_hour, materializations

from aggregator_assets.assets.windows import window_asset_key, window_assets
from aggregator_assets.query import create_lake_views, query_assets
from aggregator_assets.windows import raw_file, windows_file

HOUR = datetime(2026, 11, 2, 10, tzinfo=timezone.utc)
PARTITION = "2026-11-02-10:00"
CHECKS = {"window_counts_match_raw", "no_null_keys", "windows_inside_hour"}


def _iot(config, count=None) -> dict:
    """`materialize` arguments selecting iot-events' windows assets (the first `count`) out of
    the batch's windows op, with their checks."""
    topic = config.topic("iot-events")
    keys = [window_asset_key(topic, w) for w in topic.windows][:count]
    return {"assets": window_assets(config), "selection": keys}


def _write_raw(lake_resource, topic, hour, rows=3000, seed=0, table=None):
    lake = lake_resource.get_lake()
    table = make_raw_hour(topic, hour, rows, seed=seed) if table is None else table
    lake.write_table(raw_file(topic, hour), table)
    return table


def _checks(result) -> dict[tuple[str, str], object]:
    return {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in result.get_asset_check_evaluations()
    }


def _materialize_hour(pipeline_config, lake_resource):
    topic = pipeline_config.topic("iot-events")
    raw = _write_raw(lake_resource, topic, HOUR)
    result = materialize(
        **_iot(pipeline_config), partition_key=PARTITION, resources={"lake": lake_resource}
    )
    assert result.success
    lake = lake_resource.get_lake()
    for window in topic.windows:
        written = lake.read_table(windows_file(topic, window, HOUR))
        assert sum(written["event_count"].to_pylist()) == raw.num_rows
        key = f"windows_iot_events_{window.name}"
        [event] = materializations(result, key)
        md = event.metadata
        assert md["dagster/row_count"].value == written.num_rows > 0
        assert [c.name for c in md["dagster/column_schema"].schema.columns] == written.schema.names
        assert md["path"].value == lake.uri(windows_file(topic, window, HOUR))
        assert md["plot"].value.startswith("**") and "data:image/png;base64," in md["plot"].value
        for check in CHECKS:
            assert _checks(result)[(key, check)].passed, check
    return result


def test_materialize_local(pipeline_config, local_lake):
    _materialize_hour(pipeline_config, local_lake)


def test_materialize_s3(pipeline_config, s3_lake):
    _materialize_hour(pipeline_config, s3_lake)


def test_null_key_fails_check_with_metadata(pipeline_config, local_lake):
    topic = pipeline_config.topic("iot-events")
    raw = make_raw_hour(topic, HOUR, 200)
    ids = raw["device_id"].to_pylist()
    ids[5] = None
    raw = raw.set_column(raw.schema.get_field_index("device_id"), "device_id", pa.array(ids))
    _write_raw(local_lake, topic, HOUR, table=raw)
    result = materialize(
        **_iot(pipeline_config, 1), partition_key=PARTITION, resources={"lake": local_lake}
    )
    checks = _checks(result)
    failed = checks[("windows_iot_events_1m", "no_null_keys")]
    assert not failed.passed and failed.metadata["null_key_rows"].value == 1
    assert checks[("windows_iot_events_1m", "window_counts_match_raw")].passed


def test_empty_hour_writes_empty_file(pipeline_config, local_lake):
    topic = pipeline_config.topic("iot-events")
    _write_raw(local_lake, topic, HOUR, rows=0)
    result = materialize(
        **_iot(pipeline_config, 1), partition_key=PARTITION, resources={"lake": local_lake}
    )
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    written = local_lake.get_lake().read_table(windows_file(topic, topic.windows[0], HOUR))
    assert written.num_rows == 0 and "low_battery_count" in written.schema.names


def test_missing_raw_fails_clearly(pipeline_config, local_lake):
    result = materialize(
        **_iot(pipeline_config, 1),
        partition_key=PARTITION,
        resources={"lake": local_lake},
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "materialize raw_iot_events for partition 2026-11-02-10:00" in message


def test_ranged_run_is_one_run(pipeline_config, local_lake):
    topic = pipeline_config.topic("iot-events")
    hours = [HOUR + timedelta(hours=i) for i in range(3)]
    for i, hour in enumerate(hours):
        _write_raw(local_lake, topic, hour, rows=300, seed=i)
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            **_iot(pipeline_config, 1),
            resources={"lake": local_lake},
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": "2026-11-02-10:00",
                "dagster/asset_partition_range_end": "2026-11-02-12:00",
            },
        )
        assert result.success
        events = materializations(result, "windows_iot_events_1m")
        assert sorted(e.partition for e in events) == [
            "2026-11-02-10:00",
            "2026-11-02-11:00",
            "2026-11-02-12:00",
        ]
        assert events[0].metadata["hours"].value == 3
        merged = _checks(result)[("windows_iot_events_1m", "window_counts_match_raw")]
        assert merged.passed and merged.metadata["hours_checked"].value == 3
    lake = local_lake.get_lake()
    assert all(lake.exists(windows_file(topic, topic.windows[0], h)) for h in hours)


def test_lake_views_local(pipeline_config, local_lake, tmp_path):
    _materialize_hour(pipeline_config, local_lake)
    database = str(tmp_path / "lake.duckdb")
    result = materialize(
        query_assets(pipeline_config),
        resources={"lake": local_lake, "duckdb": DuckDBResource(database=database)},
    )
    md = result.asset_materializations_for_node("lake_views")[0].metadata
    assert {"raw_iot_events", "windows_iot_events_1m", "windows_iot_events_5m"} <= set(
        md["views"].value
    )
    assert "trip_summaries" in md["skipped_without_data"].value
    assert "```sql" in md["example_sql"].value
    with duckdb.connect(database, read_only=True) as con:
        events = con.sql("SELECT sum(event_count) FROM windows_iot_events_5m").fetchall()[0][0]
        rows = con.sql("SELECT count(*) FROM raw_iot_events").fetchall()[0][0]
    assert events == rows == 3000


@pytest.mark.parametrize("lake_fixture", ["local_lake", "s3_lake"])
def test_create_lake_views_skips_missing_folders(pipeline_config, lake_fixture, request):
    lake_resource = request.getfixturevalue(lake_fixture)
    topic = pipeline_config.topic("vehicle-can")
    _write_raw(lake_resource, topic, HOUR, rows=100)
    with duckdb.connect() as con:
        views = create_lake_views(con, lake_resource.get_lake(), pipeline_config)
        assert views["created"] == ["raw_vehicle_can"]
        assert con.sql("SELECT count(*) FROM raw_vehicle_can").fetchall()[0][0] == 100
