"""The DuckDB transform against a plain pandas reference, on generated data (no Dagster)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from aggregator_assets.trips.summarize import OUTPUT_SCHEMA, summarize_day
from aggregator_assets_tests.trips.helpers import (
    AGGREGATIONS,
    D0,
    DAY,
    SIGNALS,
    trips_config,
    vehicle_samples,
)

MAX_GAP_S, LOOKAHEAD_S = 600.0, 6 * 3600.0


def _value(values: pd.Series, aggregation: str) -> float | None:
    if aggregation == "count":
        return float(len(values))
    if values.empty:
        return None
    return {
        "avg": values.mean,
        "max": values.max,
        "min": values.min,
        "sum": values.sum,
        "median": values.median,
        "stdev": lambda: values.std(ddof=1) if len(values) > 1 else None,
        "first": lambda: values.iloc[0],
        "last": lambda: values.iloc[-1],
    }[aggregation]()


def reference(samples: pd.DataFrame, day_start: float) -> pd.DataFrame:
    """Trips and aggregates the slow, obvious way: loops over devices, trips and specs."""
    clusters = {}
    for entry in AGGREGATIONS["cluster_details"]:
        clusters.update(entry)
    device_cluster = {
        d: g["cluster"] for g in AGGREGATIONS["device_clusters"] for d in g["devices"]
    }
    window = samples[
        (samples.t >= day_start - MAX_GAP_S) & (samples.t < day_start + 86400 + LOOKAHEAD_S)
    ]
    rows = []
    for device in sorted(window.device_id.unique()):
        if device not in device_cluster:
            continue
        cluster = device_cluster[device]
        details = clusters[cluster]
        ident = details["trip_identifier"]
        mine = window[window.device_id == device].sort_values("t")
        marks = mine[(mine.message == ident["message"]) & mine[ident["signal"]].notna().any(axis=1)]
        trips, current = [], None
        for t in marks.t:
            if current and t - current[1] <= MAX_GAP_S:
                current[1] = t
            else:
                current = [t, t]
                trips.append(current)
        for start, end in trips:
            if not day_start <= start < day_start + 86400:
                continue
            for spec in details["aggregations"]:
                signals = [spec["signal"]] if isinstance(spec["signal"], str) else spec["signal"]
                for signal in signals:
                    msg = mine[(mine.message == spec["message"]) & mine.t.between(start, end)]
                    values = msg.dropna(subset=[signal])[signal]
                    rows.append(
                        {
                            "DeviceID": device,
                            "Message": spec["message"],
                            "Signal": signal,
                            "Aggregation": spec["aggregation"],
                            "Value": _value(values, spec["aggregation"]),
                            "Count": len(values),
                            "Duration": msg.t.max() - msg.t.min() if len(msg) else None,
                            "TripStart": math.floor(start),
                            "TripEnd": math.ceil(end),
                            "TripID": f"{device}_{math.floor(start)}",
                            "Cluster": cluster,
                        }
                    )
    return pd.DataFrame(rows, columns=OUTPUT_SCHEMA.names)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = ["TripStart", "DeviceID", "Message", "Signal", "Aggregation"]
    return frame.sort_values(keys, ignore_index=True)


@pytest.fixture(scope="module")
def samples() -> pd.DataFrame:
    return vehicle_samples()


def _source(frame: pd.DataFrame) -> ds.Dataset:
    table = pa.Table.from_pandas(
        frame[["device_id", "message", "t", *SIGNALS]], preserve_index=False
    )
    return ds.dataset(table)


@pytest.mark.parametrize("offset_days", [-1, 0, 1])
def test_matches_pandas_reference(samples, offset_days):
    day_start = D0 + offset_days * 86400
    summary = summarize_day(_source(samples), DAY + pd.Timedelta(days=offset_days), trips_config())
    expected = _sorted(reference(samples, day_start))
    actual = _sorted(summary.table.to_pandas())
    assert summary.table.schema == OUTPUT_SCHEMA
    assert len(actual) == len(expected) > 0
    pd.testing.assert_frame_equal(
        actual, expected, check_dtype=False, check_exact=False, rtol=1e-9, atol=1e-9
    )


def test_day_scenarios(samples):
    summary = summarize_day(_source(samples), DAY, trips_config())
    table = summary.table.to_pandas()
    starts = sorted((table.groupby("TripID").TripStart.first() - D0).tolist())
    # TripStart/TripEnd are whole seconds around the trip's samples.
    assert table.TripStart.dtype == "int64" and table.TripEnd.dtype == "int64"
    # 08:00 (one trip despite a 10-minute silence), 09:xx (a new trip after 10m01s), 12:00 (dev-b)
    # and 23:35 crossing midnight; the trip running over the previous midnight is not repeated.
    assert starts == [8 * 3600, 9 * 3600 + 596, 12 * 3600, 86400 - 1500]
    assert summary.trips == 4
    assert table.TripEnd.max() > D0 + 86400  # the crossing trip is summarised whole
    assert summary.devices == ["dev-a", "dev-b", "dev-c", "dev-x"]
    assert summary.devices_missing_from_config == ["dev-x"]
    no_altitude = table[(table.DeviceID == "dev-b") & (table.Message == "CAN2_gnss_altitude")]
    assert no_altitude.Count.eq(0).all() and no_altitude.Duration.isna().all()
    values = no_altitude.set_index("Aggregation").Value
    assert np.isnan(values["max"]) and values["count"] == 0


def test_default_cluster_takes_unlisted_devices(samples):
    summary = summarize_day(_source(samples), DAY, trips_config(default_cluster="cluster2"))
    table = summary.table.to_pandas()
    assert set(table[table.DeviceID == "dev-x"].Cluster) == {"cluster2"}
    assert summary.devices_missing_from_config == ["dev-x"]


def test_empty_source_gives_empty_table():
    frame = vehicle_samples().iloc[:0]
    summary = summarize_day(_source(frame), DAY, trips_config())
    assert summary.table.num_rows == 0 and summary.table.schema == OUTPUT_SCHEMA
    assert summary.trips == 0


def test_nan_never_reaches_the_output(samples):
    table = summarize_day(_source(samples), DAY, trips_config()).table.to_pandas()
    assert not np.isnan(table.Value.dropna()).any()


@pytest.mark.parametrize("mode", ["gaps", "legacy"])
@pytest.mark.parametrize(("silence_s", "trips"), [(600.0, 1), (600.001, 2), (1500.0, 2)])
def test_a_silence_over_max_gap_parts_trips_wherever_it_falls(mode, silence_s, trips):
    """Silences inside one half hour (not only across the 10-minute grid the trip query bins
    samples by) and between 1 Hz samples: exactly max_gap continues a trip, longer parts it."""
    start = D0 + 8 * 3600 + 60
    times = np.concatenate([start + np.arange(100.0), start + 99 + silence_s + np.arange(100.0)])
    frame = pd.DataFrame({"device_id": "dev-a", "message": "CAN2_gnss_speed", "t": times})
    frame = frame.assign(**{name: 1.0 for name in SIGNALS})
    summary = summarize_day(_source(frame), DAY, trips_config(trip_windows=mode))
    assert summary.trips == trips
