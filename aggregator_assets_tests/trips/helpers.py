"""Generated vehicle data for the trip tests, written in the raw and external lake layouts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml
from dagster import AssetKey, AssetSpec, ExecuteInProcessResult, materialize

from aggregator_assets.assets.trips import trip_assets
from aggregator_assets.config import PipelineConfig, default_config_path
from aggregator_assets.config.loader import parse_pipeline_config
from aggregator_assets.lake import Lake, hour_path
from aggregator_assets.partitions import hourly_partitions
from aggregator_assets.resources import LakeResource
from aggregator_assets.trips import TripsConfig, parse_aggregations

DAY = datetime(2026, 11, 2, tzinfo=timezone.utc)
D0 = DAY.timestamp()
SIGNALS = ["Speed", "Altitude", "AccelerationX", "AccelerationY", "AccelerationZ"]
MESSAGE_SIGNALS = {
    "CAN2_gnss_speed": ["Speed"],
    "CAN2_gnss_altitude": ["Altitude"],
    "CAN2_gnss_imu": ["AccelerationX", "AccelerationY", "AccelerationZ"],
}
ALL_AGGS = ["avg", "max", "min", "sum", "median", "stdev", "first", "last", "count"]

AGGREGATIONS = {
    "device_clusters": [
        {"devices": ["dev-a", "dev-c"], "cluster": "cluster1"},
        {"devices": ["dev-b"], "cluster": "cluster2"},
    ],
    "cluster_details": [
        {
            "cluster1": {
                "trip_identifier": {"message": "CAN2_gnss_speed", "signal": ["Speed"]},
                "aggregations": [
                    {"message": "CAN2_gnss_speed", "signal": ["Speed"], "aggregation": a}
                    for a in ALL_AGGS
                ]
                + [
                    {
                        "message": "CAN2_gnss_imu",
                        "signal": ["AccelerationX", "AccelerationZ"],
                        "aggregation": "stdev",
                    },
                    {
                        "message": "CAN2_gnss_altitude",
                        "signal": ["Altitude"],
                        "aggregation": "last",
                    },
                ],
            }
        },
        {
            "cluster2": {
                "trip_identifier": {"message": "CAN2_gnss_speed", "signal": ["Speed"]},
                "aggregations": [
                    {"message": "CAN2_gnss_speed", "signal": ["Speed"], "aggregation": "avg"},
                    {"message": "CAN2_gnss_altitude", "signal": "Altitude", "aggregation": "max"},
                    {
                        "message": "CAN2_gnss_altitude",
                        "signal": ["Altitude"],
                        "aggregation": "count",
                    },
                    {
                        "message": "CAN2_gnss_imu",
                        "signal": ["AccelerationY"],
                        "aggregation": "first",
                    },
                ],
            }
        },
    ],
}


def trips_config(**overrides) -> TripsConfig:
    settings = {"aggregations": parse_aggregations(AGGREGATIONS), **overrides}
    return TripsConfig(**settings)


def demo_config() -> dict:
    """The packaged pipeline YAML, parsed."""
    return yaml.safe_load(default_config_path().read_text())


def pipeline_with_trips(**section) -> PipelineConfig:
    """The packaged pipeline with `section` as its `trips:`, validated as loading does."""
    return parse_pipeline_config({**demo_config(), "trips": section})


def materialize_trips(
    lake: LakeResource, pipeline: PipelineConfig, asset: str, **kwargs
) -> ExecuteInProcessResult:
    """Materialize one trip asset of `pipeline` (DAY unless a partition or range is given)."""
    if "tags" not in kwargs:
        kwargs.setdefault("partition_key", f"{DAY:%Y-%m-%d}")
    raw = AssetSpec("raw_vehicle_can", partitions_def=hourly_partitions())
    return materialize(
        [raw, *trip_assets(pipeline)],
        selection=[AssetKey(asset)],
        resources={"lake": lake},
        **kwargs,
    )


def _drive(rng, device: str, start: float, end: float, step: float, nan_share: float = 0.0):
    """Samples of the three messages every `step` seconds in [start, end]."""
    rows = []
    for message, signals in MESSAGE_SIGNALS.items():
        offset = {"CAN2_gnss_speed": 0.0, "CAN2_gnss_altitude": 0.3, "CAN2_gnss_imu": 0.6}[message]
        times = np.arange(start + offset, end, step)
        frame = pd.DataFrame({"device_id": device, "message": message, "t": times})
        for name in SIGNALS:
            values = (
                rng.normal(50, 20, len(times)) if name in signals else np.full(len(times), np.nan)
            )
            if name in signals and nan_share:
                values[rng.random(len(times)) < nan_share] = np.nan
            frame[name] = values
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def vehicle_samples(seed: int = 7) -> pd.DataFrame:
    """Scenarios around DAY: trips crossing both midnights, gaps at and over 10 minutes, NaN
    samples, a configured message without data, a device without trips, an unlisted device."""
    rng = np.random.default_rng(seed)
    parts = [
        # dev-a: a trip from the previous day running past DAY's midnight (belongs to DAY-1).
        _drive(rng, "dev-a", D0 - 1200, D0 + 900, 7.0),
        # dev-a: a morning trip with a silence of exactly 10 minutes inside (one trip) ...
        _drive(rng, "dev-a", D0 + 8 * 3600, D0 + 8 * 3600 + 1200, 5.0),
        _drive(rng, "dev-a", D0 + 8 * 3600 + 1195 + 600, D0 + 9 * 3600, 5.0),
        # ... and one after a silence just over 10 minutes (a new trip), with NaN samples.
        _drive(rng, "dev-a", D0 + 9 * 3600 - 5 + 601, D0 + 10 * 3600, 9.0, nan_share=0.1),
        # dev-a: a trip crossing the next midnight (belongs to DAY, read through the lookahead).
        _drive(rng, "dev-a", D0 + 86400 - 1500, D0 + 86400 + 2400, 6.0),
        # dev-b: NaN-heavy speed, no altitude at all.
        _drive(rng, "dev-b", D0 + 12 * 3600, D0 + 13 * 3600, 4.0, nan_share=0.3).query(
            "message != 'CAN2_gnss_altitude'"
        ),
        # dev-c: altitude and IMU only, never the trip identifier: no trips.
        _drive(rng, "dev-c", D0 + 3600, D0 + 2 * 3600, 10.0).query("message != 'CAN2_gnss_speed'"),
        # dev-x: not in aggregations.json.
        _drive(rng, "dev-x", D0 + 15 * 3600, D0 + 16 * 3600, 10.0),
        # dev-b: a trip entirely on the next day.
        _drive(rng, "dev-b", D0 + 86400 + 5 * 3600, D0 + 86400 + 6 * 3600, 8.0),
    ]
    return pd.concat(parts, ignore_index=True).sort_values(["t", "device_id"], ignore_index=True)


def raw_table(frame: pd.DataFrame, t_ms: bool = False) -> pa.Table:
    """Rows in the raw layout's schema (CONTRACTS.md); `t_ms`: t is an int of milliseconds."""
    n = len(frame)
    t = pa.array(frame["t"], pa.float64())
    if t_ms:
        t = pa.array(np.round(frame["t"].to_numpy() * 1000).astype("int64"))
    columns = {
        "device_id": pa.array(frame["device_id"], pa.string()),
        "message": pa.array(frame["message"], pa.string()),
        "t": t,
    }
    for name in SIGNALS:
        columns[name] = pa.array(frame[name], pa.float64(), from_pandas=False)
    event_us = (frame["t"].to_numpy() * 1e6).astype("int64")
    columns["event_time"] = pa.array(event_us, pa.timestamp("us", tz="UTC"))
    columns["kafka_partition"] = pa.array(np.zeros(n, "int32"))
    columns["kafka_offset"] = pa.array(np.arange(n, dtype="int64"))
    columns["kafka_timestamp"] = pa.array(event_us // 1000, pa.timestamp("ms", tz="UTC"))
    columns["is_late"] = pa.array(np.zeros(n, bool))
    return pa.table(columns)


def write_raw_hours(
    lake: Lake,
    frame: pd.DataFrame,
    first: datetime,
    last: datetime,
    topic: str = "vehicle-can",
    t_ms: bool = False,
) -> None:
    """One file per hour in [first, last], empty hours included, like materialized raw hours."""
    hour = first
    while hour <= last:
        lo = hour.timestamp()
        part = frame[(frame["t"] >= lo) & (frame["t"] < lo + 3600)]
        table = raw_table(part, t_ms)
        lake.write_table(f"{hour_path('raw', topic, hour=hour)}/part-0.parquet", table)
        hour += timedelta(hours=1)


def time_array(seconds: pd.Series, time_type: pa.DataType) -> pa.Array:
    """Epoch seconds as `time_type`: floats as they are, ints and timestamps in whole units
    (rounded to the microsecond first; whole seconds for `s` and the integer types)."""
    if pa.types.is_floating(time_type):
        return pa.array(seconds.to_numpy(), time_type)
    if pa.types.is_integer(time_type):
        return pa.array(np.round(seconds.to_numpy()).astype("int64")).cast(time_type)
    micros = np.round(seconds.to_numpy() * 1e6).astype("int64")
    ticks = {"s": micros // 10**6, "ms": micros // 1000, "us": micros, "ns": micros * 1000}
    return pa.array(ticks[time_type.unit], pa.int64()).cast(time_type)


def write_external(
    lake: Lake,
    prefix: str,
    frame: pd.DataFrame,
    time_types: list[pa.DataType] | None = None,
    files_per_day: int = 1,
) -> None:
    """`<prefix>/<device_id>/<message>/YYYY/MM/DD/part-N.parquet`: t plus the message's signals,
    the rows of a day dealt over `files_per_day` files. File n of the k-th folder holds t as
    `time_types[(k + n) % len(time_types)]` (default: float seconds), so the files of one
    message disagree in type across days, devices and within a day."""
    time_types = time_types or [pa.float64()]
    day = (frame["t"] // 86400).astype(int)
    groups = frame.groupby(["device_id", "message", day])
    for k, ((device, message, d), part) in enumerate(groups):
        when = datetime.fromtimestamp(d * 86400, tz=timezone.utc)
        for n in range(files_per_day):
            rows = part.iloc[n::files_per_day]
            time_type = time_types[(k + n) % len(time_types)]
            columns = {"t": time_array(rows["t"], time_type)}
            columns |= {s: pa.array(rows[s], pa.float64()) for s in MESSAGE_SIGNALS[message]}
            folder = f"{prefix}/{device}/{message}/{when:%Y/%m/%d}"
            lake.write_table(f"{folder}/part-{n}.parquet", pa.table(columns))


def assert_same_rows(actual: pa.Table, expected: pa.Table, rtol: float = 1e-9) -> None:
    """The same rows in any order, floats equal up to summation order (DuckDB aggregates in
    parallel)."""
    keys = ["TripStart", "DeviceID", "Message", "Signal", "Aggregation"]
    assert actual.schema == expected.schema and actual.num_rows == expected.num_rows > 0
    pd.testing.assert_frame_equal(
        actual.to_pandas().sort_values(keys, ignore_index=True),
        expected.to_pandas().sort_values(keys, ignore_index=True),
        check_exact=False,
        rtol=rtol,
    )
