"""Any reasonable `t`: vehicle lakes hold it as timestamps of any unit, with or without a zone,
or as float or int epoch seconds, and files of one message disagree (issue #14). Read locally by
DuckDB itself and on S3 through pyarrow datasets; a file whose `t` is no time fails, named."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from aggregator_assets.config.loader import parse_pipeline_config
from aggregator_assets.lake import Lake
from aggregator_assets.resources import LakeResource
from aggregator_assets.trips.sources import UnreadableTimeError, external_source
from aggregator_assets.trips.summarize import summarize_day
from aggregator_assets_tests.trips.helpers import (
    AGGREGATIONS,
    DAY,
    SIGNALS,
    assert_same_rows,
    demo_config,
    materialize_trips,
    pipeline_with_trips,
    trips_config,
    vehicle_samples,
    write_external,
    write_raw_hours,
)

# What pandas, Spark, loggers and hand-written exporters put in `t`. float32 is left out: it
# cannot hold today's epoch seconds to the second.
TIME_TYPES = [
    pa.timestamp("us"),
    pa.float64(),
    pa.timestamp("ns", tz="UTC"),
    pa.timestamp("ms"),
    pa.int64(),
    pa.timestamp("s"),
    pa.timestamp("us", tz="Europe/Berlin"),
    pa.timestamp("ns"),
    pa.int32(),
]
MODES = ["gaps", "legacy"]
DAY_FILE = f"year={DAY:%Y}/month={DAY:%m}/day={DAY:%d}/part-0.parquet"


@pytest.fixture(scope="module")
def samples() -> pd.DataFrame:
    """The trip scenarios on whole seconds, so that every type holds the same instants."""
    frame = vehicle_samples()
    return frame.assign(t=np.floor(frame["t"]))


def _expected(samples: pd.DataFrame, config) -> pd.DataFrame:
    """The same samples with `t` as float seconds, the type read before issue #14."""
    columns = samples[["device_id", "message", "t", *SIGNALS]]
    source = ds.dataset(pa.Table.from_pandas(columns, preserve_index=False))
    return summarize_day(source, DAY, config).table


def _check_mixed_lake(lake: Lake, samples: pd.DataFrame, mode: str) -> list:
    config = trips_config(trip_windows=mode)
    write_external(lake, "ext", samples, TIME_TYPES, files_per_day=2)
    source = external_source(lake, "ext", DAY, config)
    # Parquet has no seconds unit: pyarrow stores timestamp[s] as milliseconds.
    stored = {pa.timestamp("ms") if t == pa.timestamp("s") else t for t in TIME_TYPES}
    assert {p.time_type for p in source.parts} == stored
    expected = _expected(samples, config)
    if mode == "legacy":
        # The legacy reference reads the same day folders, whole.
        expected = summarize_day(external_source(lake, "float", DAY, config), DAY, config).table
    assert_same_rows(summarize_day(source, DAY, config).table, expected, rtol=1e-12)
    return list(source.parts)


@pytest.fixture
def float_lake(samples):
    """A writer of the same samples as float seconds under `float/`, for legacy references."""

    def write(lake: Lake) -> None:
        write_external(lake, "float", samples)

    return write


@pytest.mark.parametrize("mode", MODES)
def test_every_time_type_in_one_local_lake(tmp_path, samples, float_lake, mode):
    """One day file timestamp[us], another float seconds, another timestamp[ns, UTC], ...: all
    read by DuckDB itself (no pyarrow dataset), with the results of float seconds."""
    lake = Lake(str(tmp_path))
    float_lake(lake)
    parts = _check_mixed_lake(lake, samples, mode)
    assert all(p.dataset is None and p.paths for p in parts)


@pytest.mark.parametrize("mode", MODES)
def test_every_time_type_in_one_s3_lake(s3_lake, samples, float_lake, mode):
    lake = s3_lake.get_lake()
    float_lake(lake)
    parts = _check_mixed_lake(lake, samples, mode)
    assert all(p.dataset is not None for p in parts)


def test_external_asset_reads_a_timestamp_lake(tmp_path, samples):
    """The case of issue #14: a pandas-written lake (t timestamp[us]) through the asset."""
    lake = LakeResource(url=str(tmp_path))
    store = lake.get_lake()
    write_external(store, "vehicle_data_lake", samples, [pa.timestamp("us")])
    pipeline = pipeline_with_trips(aggregations=AGGREGATIONS)
    materialize_trips(lake, pipeline, "trip_summaries_external")
    written = store.read_table(f"trips/trip_summaries_external/{DAY_FILE}")
    assert_same_rows(written, _expected(samples, trips_config()), rtol=1e-12)


def _unreadable_lake(lake: Lake, samples: pd.DataFrame) -> list[str]:
    write_external(lake, "ext", samples, [pa.timestamp("us")])
    bad = [
        "ext/dev-a/CAN2_gnss_speed/2026/11/02/text.parquet",
        "ext/dev-b/CAN2_gnss_imu/2026/11/02/no_t.parquet",
    ]
    lake.write_table(bad[0], pa.table({"t": ["yesterday"], "Speed": [1.0]}))
    lake.write_table(bad[1], pa.table({"time": [1.0], "AccelerationY": [1.0]}))
    return [lake.uri(path) for path in bad]


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_file_whose_t_is_no_time_fails_named(tmp_path, s3_lake, samples, where):
    lake = Lake(str(tmp_path)) if where == "local" else s3_lake.get_lake()
    named = _unreadable_lake(lake, samples)
    with pytest.raises(UnreadableTimeError) as error:
        external_source(lake, "ext", DAY, trips_config())
    message = str(error.value)
    assert f"{named[0]}: column 't' is string" in message
    assert f"{named[1]}: no column 't'" in message


def test_the_asset_fails_with_the_file_named(tmp_path, samples):
    lake = LakeResource(url=str(tmp_path))
    named = _unreadable_lake(lake.get_lake(), samples)
    pipeline = pipeline_with_trips(aggregations=AGGREGATIONS, external_lake_prefix="ext")
    result = materialize_trips(lake, pipeline, "trip_summaries_external", raise_on_error=False)
    assert not result.success
    failure = str(result.failure_data_for_node("trip_summaries_external").error)
    assert all(path in failure for path in named)


def _vehicle_topic(config: dict, **changes) -> dict:
    topic = next(t for t in config["topics"] if t["name"] == "vehicle-can")
    for key, value in changes.items():
        if key == "fields":
            topic["fields"] = {**topic["fields"], **value}
        else:
            topic[key] = value
    return config


def test_raw_t_in_milliseconds_is_read_through_the_event_time(tmp_path, samples):
    """A topic whose `t` is its event time in epoch milliseconds: the trips read the raw
    `event_time` column, never the milliseconds as seconds."""
    config = _vehicle_topic(
        demo_config(),
        event_time={"field": "t", "format": "epoch_ms"},
        fields={"t": {"type": "int", "required": True}},
    )
    pipeline = parse_pipeline_config(config | {"trips": {"aggregations": AGGREGATIONS}})
    lake = LakeResource(url=str(tmp_path))
    store = lake.get_lake()
    first, last = DAY - timedelta(hours=1), DAY + timedelta(days=1, hours=6)
    write_raw_hours(store, samples, first, last, t_ms=True)
    materialize_trips(lake, pipeline, "trip_summaries")
    written = store.read_table(f"trips/trip_summaries/{DAY_FILE}")
    assert_same_rows(written, _expected(samples, trips_config()), rtol=1e-12)


def test_raw_t_that_is_no_time_is_refused_at_load():
    config = _vehicle_topic(
        demo_config(),
        event_time={"field": "ts", "format": "epoch_s"},
        fields={"t": {"type": "string"}, "ts": {"type": "float", "required": True}},
    )
    with pytest.raises(ValueError, match=r"trips\.source_topic: .*field 't' .* is string"):
        parse_pipeline_config(config | {"trips": {"aggregations": AGGREGATIONS}})
