"""Legacy trip mode (`trip_windows: legacy`) against the real legacy script, row for row.

Each lake is generated with the cases the script's users meet: trips crossing both midnights
(the script cuts them at the day folder), gaps of exactly and just over 10 minutes, NaN
readings, a message folder that is missing, one that is empty, one holding a zero-row file,
files without a signal's column, samples of the next day written into the day's folder, a
sample exactly on a window's end and one between two windows, several files per folder with
different timestamp units, and devices that are unlisted or have no data. The script runs from
`../shared/legacy/` on the lake; our legacy rows must equal its rows.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from aggregator_assets.lake import Lake
from aggregator_assets.resources import LakeResource
from aggregator_assets.trips import TripsConfig, parse_aggregations
from aggregator_assets.trips.legacy import legacy_output_path
from aggregator_assets.trips.sources import external_source
from aggregator_assets.trips.summarize import summarize_day
from aggregator_assets_tests.trips.helpers import (
    D0,
    DAY,
    MESSAGE_SIGNALS,
    SIGNALS,
    materialize_trips,
    pipeline_with_trips,
    time_array,
    write_raw_hours,
)
from aggregator_assets_tests.trips.legacy_script import legacy_differences, run_legacy_script

SPEED, ALTITUDE, IMU = MESSAGE_SIGNALS
IMU_SIGNALS = MESSAGE_SIGNALS[IMU]
AGGREGATIONS = {
    "device_clusters": [
        {"devices": ["dev-a", "dev-c", "dev-d"], "cluster": "cars"},
        {"devices": ["dev-b", "dev-e"], "cluster": "trucks"},
    ],
    "cluster_details": [
        {
            "cars": {
                "trip_identifier": {"message": SPEED, "signal": ["Speed"]},
                "aggregations": [
                    {"message": SPEED, "signal": ["Speed"], "aggregation": a}
                    for a in ("avg", "max", "min", "sum", "median")
                ]
                + [
                    {"message": ALTITUDE, "signal": ["Altitude"], "aggregation": a}
                    for a in ("avg", "min", "max", "sum", "last")
                ]
                + [
                    {"message": IMU, "signal": IMU_SIGNALS, "aggregation": a}
                    for a in ("avg", "max", "min", "sum", "stdev")
                ],
            }
        },
        {
            "trucks": {
                # Another message marks trips here: the script looks only at its t.
                "trip_identifier": {"message": IMU, "signal": ["AccelerationZ"]},
                "aggregations": [
                    {"message": SPEED, "signal": ["Speed"], "aggregation": "avg"},
                    {"message": SPEED, "signal": ["Speed"], "aggregation": "sum"},
                    {"message": ALTITUDE, "signal": ["Altitude"], "aggregation": "max"},
                    {"message": IMU, "signal": ["AccelerationZ"], "aggregation": "min"},
                    {"message": IMU, "signal": ["AccelerationZ"], "aggregation": "count"},
                ],
            }
        },
    ],
}
LEGACY = TripsConfig(aggregations=parse_aggregations(AGGREGATIONS), trip_windows="legacy")
NEXT = DAY + timedelta(days=1)
DAY_FOLDER = f"year={DAY:%Y}/month={DAY:%m}/day={DAY:%d}"
H = 3600.0


def _drive(rng, device, message, start, end, step, nan_share=0.0, signals=None) -> pd.DataFrame:
    """Samples of one message every `step` s in [start, end), on whole microseconds."""
    times = np.arange(start, end, step)
    frame = pd.DataFrame({"device_id": device, "message": message, "t": times})
    for name in signals or MESSAGE_SIGNALS[message]:
        values = rng.normal(50, 20, len(times))
        values[rng.random(len(times)) < nan_share] = np.nan
        frame[name] = values
    return frame


def _trip(rng, device, start, end, step, nan_share=0.0, messages=MESSAGE_SIGNALS):
    offsets = {SPEED: 0.0, ALTITUDE: 0.25, IMU: 0.5}
    return [
        _drive(rng, device, m, start + offsets[m], end, step, nan_share)
        for m in messages
        if m in MESSAGE_SIGNALS
    ]


def legacy_samples(seed: int) -> pd.DataFrame:
    """The samples of the scenarios around DAY, with `folder`: the day folder each is stored
    in (the UTC day of t, except some late rows)."""
    rng = np.random.default_rng(seed)
    jitter = round(rng.uniform(0, 30), 3)  # whole ms: a 10-minute gap stays exactly 600 s
    morning = D0 + 8 * H + jitter
    parts = [
        # dev-a: from the day before past midnight; cut at midnight by the day folders.
        *_trip(rng, "dev-a", D0 - 1200 + jitter, D0 + 900, 7.0),
        # dev-a: 08:00 with a silence of exactly 10 minutes inside (still one trip) ...
        *_trip(rng, "dev-a", morning, morning + 1200, 5.0),
        *_trip(rng, "dev-a", morning + 1195 + 600, morning + 3600, 5.0, messages=[SPEED, IMU]),
        # ... then a new trip after a silence just over 10 minutes, with NaN readings.
        *_trip(rng, "dev-a", morning + 3595 + 600.5, D0 + 10 * H, 3.0, 0.2, [SPEED, IMU]),
        # dev-a: from 23:35 over the next midnight.
        *_trip(rng, "dev-a", D0 + 86400 - 1500, D0 + 86400 + 2400, 6.0, 0.05),
        # dev-b (trucks: trips from the IMU's t): NaN-heavy speed; altitude folder left empty.
        *_trip(rng, "dev-b", D0 + 12 * H, D0 + 13 * H, 4.0, 0.3, [SPEED, IMU]),
        *_trip(rng, "dev-b", D0 + 86400 + 5 * H, D0 + 86400 + 6 * H, 8.0, 0.0, [SPEED, IMU]),
        # dev-c: never the trip identifier: no trips.
        *_trip(rng, "dev-c", D0 + H, D0 + 2 * H, 10.0, messages=[ALTITUDE, IMU]),
        # dev-d: speed only; its altitude folder holds a zero-row file, its IMU files lack X.
        *_trip(rng, "dev-d", D0 + 15 * H, D0 + 16 * H, 2.0, messages=[SPEED]),
        _drive(rng, "dev-d", IMU, D0 + 15 * H, D0 + 16 * H, 3.0, signals=IMU_SIGNALS[1:]),
        # dev-x: not in aggregations.json.
        *_trip(rng, "dev-x", D0 + 15 * H, D0 + 16 * H, 10.0),
    ]
    # dev-a: IMU samples exactly on the first morning trip's window end (next start - 2 s),
    # between that window and the next (- 1.5 s) and on the next window's start (- 1 s).
    frame = pd.concat(parts, ignore_index=True)
    # Altitude and IMU times off the whole millisecond, so durations are not exact in binary.
    off = frame.message != SPEED
    frame.loc[off, "t"] += rng.integers(1, 1000, off.sum()) / 1e6
    second = morning + 3595 + 600.5
    probes = _drive(rng, "dev-a", IMU, second - 2.0, second - 0.9, 0.5)
    frame = pd.concat([frame, probes], ignore_index=True)
    frame["t"] = np.round(frame["t"] * 1e6) / 1e6
    frame["folder"] = pd.to_datetime(frame["t"] // 86400 * 86400, unit="s").dt.date
    # Speed rows of the first seconds after midnight that dev-a's logger wrote into the
    # day-before's folder: the script reads a folder whole, whatever its t says.
    late = (frame.device_id == "dev-a") & (frame.message == SPEED)
    late &= frame.t.between(D0 + 86400, D0 + 86400 + 20)
    frame.loc[late, "folder"] = DAY.date()
    return frame.sort_values("t", ignore_index=True)


def write_legacy_lake(
    root: Path, frame: pd.DataFrame, time_types: list[pa.DataType], oddities: bool = True
) -> None:
    """`<root>/<device>/<message>/YYYY/MM/DD/part-N.parquet`, one file per time type (rows
    dealt round-robin), t plus the message's signals. `oddities`: dev-b's altitude folders are
    empty, dev-d's hold a zero-row file and its IMU files have no AccelerationX column."""
    for (device, message, folder), part in frame.groupby(["device_id", "message", "folder"]):
        where = root / device / message / f"{folder:%Y/%m/%d}"
        where.mkdir(parents=True, exist_ok=True)
        columns = MESSAGE_SIGNALS[message]
        if oddities and (device, message) == ("dev-d", IMU):
            columns = columns[1:]
        for n, time_type in enumerate(time_types):
            rows = part.iloc[n :: len(time_types)]
            table = pa.table(
                {"t": time_array(rows.t, time_type)}
                | {s: pa.array(rows[s], pa.float64()) for s in columns}
            )
            pq.write_table(table, where / f"part-{n}.parquet")
    (root / "aggregations.json").write_text(json.dumps(AGGREGATIONS))
    if not oddities:
        return
    for day in (DAY, NEXT):
        (root / "dev-b" / ALTITUDE / f"{day:%Y/%m/%d}").mkdir(parents=True, exist_ok=True)
        zero_rows = root / "dev-d" / ALTITUDE / f"{day:%Y/%m/%d}"
        zero_rows.mkdir(parents=True, exist_ok=True)
        schema = pa.schema([("t", time_types[0]), ("Altitude", pa.float64())])
        pq.write_table(schema.empty_table(), zero_rows / "empty.parquet")


LAKES = {
    "timestamp_us": [pa.timestamp("us")],
    "us_and_ns_files": [pa.timestamp("us"), pa.timestamp("ns")],
    "utc_ns_and_ms_files": [pa.timestamp("ns", tz="UTC"), pa.timestamp("ms", tz="UTC")],
}


@pytest.fixture(scope="module", params=sorted(LAKES))
def lake(request, tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp(request.param)
    frame = legacy_samples(seed=sorted(LAKES).index(request.param))
    write_legacy_lake(root, frame, LAKES[request.param])
    return root, frame


def _ours(root: Path, day) -> pa.Table:
    source = external_source(Lake(str(root)), "", day, LEGACY)
    assert source.folders is not None
    return summarize_day(source, day, LEGACY).table


def _expected_errors(root: Path, day) -> list[str]:
    """The script's own complaint: dev-b's altitude folder holds no Parquet file."""
    folder = root / "dev-b" / ALTITUDE / f"{day:%Y/%m/%d}"
    return [f"Error processing directory {folder} for trip: No objects to concatenate"] * 2


@pytest.mark.parametrize("day", [DAY, NEXT], ids=["day", "next_day"])
def test_legacy_mode_equals_the_script(lake, day):
    root, _ = lake
    script = run_legacy_script(root / "aggregations.json", root, day)
    assert sorted(set(script.errors)) == sorted(set(_expected_errors(root, day)))
    ours = _ours(root, day)
    assert legacy_differences(ours, script.table) == []
    assert script.table is not None and script.table.num_rows > 20
    # The extra aggregations are extra rows, for the same trips.
    extra = ours.filter(pc.is_in(ours["Aggregation"], pa.array(["median", "last"])))
    assert extra.num_rows and set(extra["TripID"].to_pylist()) <= set(ours["TripID"].to_pylist())


def test_the_lake_has_every_case(lake):
    """The scenarios are present in the script's own output, so the comparison covers them."""
    root, _ = lake
    rows = run_legacy_script(root / "aggregations.json", root, DAY).table.to_pandas()
    a = rows[rows.DeviceID == "dev-a"]
    starts = sorted(a.TripStart.unique() - D0)
    assert len(starts) == 4 and -1 <= starts[0] < 7  # the midnight trip restarts at midnight
    assert a.TripEnd.max() > D0 + 86400  # the late rows of the next day widen the last window
    assert (a[a.Message == ALTITUDE].Count == 0).any()  # a window without altitude samples
    assert set(rows[rows.DeviceID == "dev-d"].Signal) == {"Speed", "Altitude", *IMU_SIGNALS[1:]}
    zero = rows[(rows.DeviceID == "dev-d") & (rows.Message == ALTITUDE)]
    assert (zero.Count == 0).all() and zero[zero.Aggregation == "sum"].Value.eq(0).all()
    assert set(rows[rows.DeviceID == "dev-b"].Message) == {SPEED, IMU}
    assert not {"dev-c", "dev-e", "dev-x"} & set(rows.DeviceID)


def test_float_seconds_read_like_timestamps(tmp_path):
    """The script cannot read a float `t` (it writes nothing); ours reads it, and gives the rows
    the script gives for the same instants stored as timestamps."""
    frame = legacy_samples(seed=5)
    write_legacy_lake(tmp_path / "ts", frame, [pa.timestamp("us")])
    write_legacy_lake(tmp_path / "float", frame, [pa.float64(), pa.timestamp("ns", tz="UTC")])
    for day in (DAY, NEXT):
        script = run_legacy_script(tmp_path / "ts" / "aggregations.json", tmp_path / "ts", day)
        ours = _ours(tmp_path / "float", day)
        assert legacy_differences(ours, script.table, duration_abs=1e-6) == []
    on_floats = run_legacy_script(tmp_path / "float" / "aggregations.json", tmp_path / "float", DAY)
    assert on_floats.table is None and on_floats.errors


def test_asset_writes_the_legacy_path_on_s3(s3_lake, tmp_path):
    """`trip_summaries_external` in legacy mode over an S3 lake writes our table and the
    script's file where the script writes it; both agree with the script run on the same lake."""
    frame = legacy_samples(seed=11)
    local = tmp_path / "lake"
    write_legacy_lake(local, frame, [pa.timestamp("ns"), pa.timestamp("us")])
    store = s3_lake.get_lake()
    for path in local.rglob("*.parquet"):
        relative = path.relative_to(local).as_posix()
        store.write_bytes(f"vehicle_data_lake/{relative}", path.read_bytes())
    pipeline = pipeline_with_trips(
        aggregations=AGGREGATIONS, trip_windows="legacy", legacy_output=True
    )
    result = materialize_trips(s3_lake, pipeline, "trip_summaries_external")
    script = run_legacy_script(local / "aggregations.json", local, DAY)
    assert set(script.errors) == set(_expected_errors(local, DAY))
    written = store.read_table(f"vehicle_data_lake/{legacy_output_path(DAY)}")
    assert written.schema.field("TripStart").type == pa.int64()
    assert legacy_differences(written, script.table) == []
    assert set(written["Aggregation"].to_pylist()) <= {"avg", "max", "min", "sum"}
    ours = store.read_table(f"trips/trip_summaries_external/{DAY_FOLDER}/part-0.parquet")
    assert legacy_differences(ours, script.table) == []
    meta = result.asset_materializations_for_node("trip_summaries_external")[0].metadata
    assert meta["legacy_rows_written"].value == written.num_rows


def test_legacy_output_of_a_day_without_trips_is_removed(tmp_path):
    """A day without rows has no legacy file, as with the script; one left by an earlier run is
    removed so the legacy table does not keep stale trips."""
    lake = LakeResource(url=str(tmp_path / "lake"))
    store = lake.get_lake()
    stale = f"vehicle_data_lake/{legacy_output_path(DAY)}"
    store.write_bytes(stale, b"stale")
    pipeline = pipeline_with_trips(
        aggregations=AGGREGATIONS, trip_windows="legacy", legacy_output=True
    )
    materialize_trips(lake, pipeline, "trip_summaries_external")
    assert not store.exists(stale)


def test_raw_hours_in_legacy_mode_equal_the_script(tmp_path):
    """From the topic's raw hours (float `t`), legacy mode treats each UTC day as the script
    treats a day folder: equal to the script on a lake of the same samples."""
    frame = legacy_samples(seed=3)
    frame = frame[frame.folder == pd.to_datetime(frame.t, unit="s").dt.date]  # no late rows
    write_legacy_lake(tmp_path / "ext", frame, [pa.timestamp("us")], oddities=False)
    lake = LakeResource(url=str(tmp_path / "lake"))
    store = lake.get_lake()
    raw = frame.drop(columns="folder").reindex(columns=["device_id", "message", "t", *SIGNALS])
    write_raw_hours(store, raw, DAY, DAY + timedelta(hours=23))
    pipeline = pipeline_with_trips(aggregations=AGGREGATIONS, trip_windows="legacy")
    materialize_trips(lake, pipeline, "trip_summaries")
    ours = store.read_table(f"trips/trip_summaries/{DAY_FOLDER}/part-0.parquet")
    script = run_legacy_script(tmp_path / "ext" / "aggregations.json", tmp_path / "ext", DAY)
    assert legacy_differences(ours, script.table, duration_abs=1e-6) == []
