"""The daily trip assets in Dagster: partition mapping, raw and external inputs, local and S3."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from aggregator_assets.assets.trips import raw_hours_mapping
from aggregator_assets.lake import hour_path
from aggregator_assets.partitions import daily_partitions, hourly_partitions, hours_between
from aggregator_assets.resources import LakeResource
from aggregator_assets.trips.sources import MissingHoursError, raw_hours_dataset, scan_window
from aggregator_assets.trips.summarize import summarize_day
from aggregator_assets_tests.trips.helpers import (
    AGGREGATIONS,
    DAY,
    SIGNALS,
    assert_same_rows,
    materialize_trips,
    pipeline_with_trips,
    trips_config,
    vehicle_samples,
    write_external,
    write_raw_hours,
)

PIPELINE = pipeline_with_trips(aggregations=AGGREGATIONS)
DAY_KEY = f"{DAY:%Y-%m-%d}"
OUT = "trips/trip_summaries/year=2026/month=11/day=02/part-0.parquet"


@pytest.fixture(scope="module")
def samples():
    return vehicle_samples()


def _expected(samples):
    columns = samples[["device_id", "message", "t", *SIGNALS]]
    source = ds.dataset(pa.Table.from_pandas(columns, preserve_index=False))
    return summarize_day(source, DAY, trips_config()).table


def _run(lake: LakeResource, asset: str, **kwargs):
    return materialize_trips(lake, PIPELINE, asset, **kwargs)


def _hourly_keys(result) -> list[str]:
    return result.partitions_subset.get_partition_keys()


def test_mapping_covers_lookback_and_lookahead_in_whole_days():
    mapping = raw_hours_mapping(trips_config())
    daily, hourly = daily_partitions(), hourly_partitions()
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    day = mapping.get_upstream_mapped_partitions_result_for_partitions(
        daily.subset_with_partition_keys([DAY_KEY]), daily, hourly, current_time=now
    )
    keys = _hourly_keys(day)
    assert (keys[0], keys[-1], len(keys)) == ("2026-11-01-00:00", "2026-11-03-23:00", 72)
    needed = {
        h.strftime("%Y-%m-%d-%H:%M") for h in hours_between(*scan_window(DAY, trips_config()))
    }
    assert needed <= set(keys) and not day.required_but_nonexistent_subset.get_partition_keys()
    # A range maps to one contiguous block; the first day is clamped at the first hour.
    span = mapping.get_upstream_mapped_partitions_result_for_partitions(
        daily.get_partition_subset_in_time_window(
            daily.time_window_for_partition_key("2026-11-01")._replace(
                end=datetime(2026, 11, 4, tzinfo=timezone.utc)
            )
        ),
        daily,
        hourly,
        current_time=now,
    )
    keys = _hourly_keys(span)
    assert (keys[0], keys[-1], len(keys)) == ("2026-11-01-00:00", "2026-11-04-23:00", 96)
    # The newest day maps only to hours that exist yet.
    soon = datetime(2026, 11, 5, 3, tzinfo=timezone.utc)
    last = mapping.get_upstream_mapped_partitions_result_for_partitions(
        daily.subset_with_partition_keys(["2026-11-04"]), daily, hourly, current_time=soon
    )
    assert _hourly_keys(last)[-1] == "2026-11-05-02:00"
    assert not last.required_but_nonexistent_subset.get_partition_keys()


def test_trip_summaries_from_raw_hours(tmp_path, samples):
    lake = LakeResource(url=str(tmp_path))
    store = lake.get_lake()
    write_raw_hours(store, samples, DAY - timedelta(days=1), DAY + timedelta(days=2, hours=23))
    result = _run(lake, "trip_summaries", partition_key=DAY_KEY)
    written = store.read_table(OUT)
    assert_same_rows(written, _expected(samples))
    meta = result.asset_materializations_for_node("trip_summaries")[0].metadata
    assert meta["dagster/row_count"].value == written.num_rows > 0
    assert meta["trips"].value == 4 and meta["devices"].value == 4
    assert meta["devices_missing_from_config"].value == 1
    assert meta["devices_missing_from_config_sample"].value == ["dev-x"]
    assert meta["path"].value == store.uri(OUT)
    assert [c.name for c in meta["dagster/column_schema"].schema.columns] == written.column_names

    # A ranged run (one run for two days) writes both; the next day repeats no trip.
    tags = {
        "dagster/asset_partition_range_start": "2026-11-02",
        "dagster/asset_partition_range_end": "2026-11-03",
    }
    _run(lake, "trip_summaries", tags=tags)
    nxt = store.read_table(OUT.replace("day=02", "day=03")).to_pandas()
    assert set(nxt.TripID).isdisjoint(written.column("TripID").to_pylist())
    assert set(nxt.DeviceID) == {"dev-b"}


def test_missing_raw_hour_fails_clearly(tmp_path, samples):
    lake = LakeResource(url=str(tmp_path))
    store = lake.get_lake()
    write_raw_hours(store, samples, DAY - timedelta(hours=1), DAY + timedelta(days=1, hours=5))
    store.delete(
        f"{hour_path('raw', 'vehicle-can', hour=DAY + timedelta(hours=26))}/part-0.parquet"
    )
    result = _run(lake, "trip_summaries", partition_key=DAY_KEY, raise_on_error=False)
    assert not result.success
    failure = result.failure_data_for_node("trip_summaries")
    assert "2026-11-03-02:00" in str(failure.error)
    assert not store.exists(OUT)


def test_hours_after_now_are_not_required(tmp_path, samples):
    store = LakeResource(url=str(tmp_path)).get_lake()
    write_raw_hours(store, samples, DAY - timedelta(hours=1), DAY + timedelta(days=1, hours=1))
    window = scan_window(DAY, trips_config())
    now = DAY + timedelta(days=1, hours=2, minutes=30)
    raw = raw_hours_dataset(store, "vehicle-can", window, SIGNALS, now, DAY - timedelta(days=1))
    assert [h.hour for h in raw.not_yet_available] == [2, 3, 4, 5]
    with pytest.raises(MissingHoursError, match="2026-11-03-02:00"):
        raw_hours_dataset(store, "vehicle-can", window, SIGNALS, now + timedelta(hours=1), DAY)


def test_trip_summaries_from_external_lake(tmp_path, samples):
    lake = LakeResource(url=str(tmp_path))
    store = lake.get_lake()
    write_external(store, "vehicle_data_lake", samples)
    result = _run(lake, "trip_summaries_external", partition_key=DAY_KEY)
    written = store.read_table(OUT.replace("trip_summaries", "trip_summaries_external"))
    assert_same_rows(written, _expected(samples))
    meta = result.asset_materializations_for_node("trip_summaries_external")[0].metadata
    assert meta["trips"].value == 4 and meta["external_files_read"].value > 0


def test_trip_summaries_on_s3(s3_lake, samples):
    store = s3_lake.get_lake()
    write_raw_hours(store, samples, DAY - timedelta(hours=1), DAY + timedelta(days=1, hours=5))
    result = _run(s3_lake, "trip_summaries", partition_key=DAY_KEY)
    assert_same_rows(store.read_table(OUT), _expected(samples))
    meta = result.asset_materializations_for_node("trip_summaries")[0].metadata
    assert meta["path"].value.startswith("s3://")
