"""The pure window transform against an independent pandas computation, and the checks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from windows_testdata import make_raw_hour, pandas_window_stats

from aggregator_assets.windows import (
    check_windows,
    compute_window_stats,
    merge_outcomes,
    plot_windows_png,
    quote_identifier,
)
from aggregator_assets.windows.columns import key_columns
from aggregator_assets.windows.compute import empty_raw_table
from aggregator_assets.windows.group_stats import GroupLayout, field_stats
from aggregator_assets.windows.groups import group_windows

HOUR = datetime(2026, 11, 2, 10, tzinfo=timezone.utc)
EXACT = ("event_count", "count", "count_", "min_", "max_", "median_", "time", "window_size")


def _sorted(df: pd.DataFrame, keys: list[str], first: str) -> pd.DataFrame:
    return df.sort_values([*keys, first], na_position="last").reset_index(drop=True)


@pytest.mark.parametrize(
    ("topic_name", "size", "profile"),
    [
        ("iot-events", 60, "default"),
        ("iot-events", 300, "default"),
        ("observatory.telemetry", 1, "default"),
        ("observatory.telemetry", 1, "kafka-aggregator"),
        ("vehicle-can", 60, "default"),
        ("iot-events", 300, "kafka-aggregator"),
    ],
)
def test_matches_pandas(pipeline_config, topic_name, size, profile):
    topic = pipeline_config.topic(topic_name).model_copy(update={"window_naming": profile})
    raw = make_raw_hour(topic, HOUR, rows=20_000, devices=7, seed=size)
    ours = compute_window_stats(raw, topic, size)
    keys = key_columns(topic)
    first = topic.naming.window[0][0]  # window_start or time: both order the windows
    assert ours.equals(ours.sort_by([(k, "ascending", "at_end") for k in [*keys, first]]))
    got = _sorted(ours.to_pandas(), keys, first)
    want = _sorted(pandas_window_stats(raw, topic, size), keys, first)
    assert list(got.columns) == list(want.columns) == ours.schema.names
    assert len(got) == len(want)
    windows = [c for c, _ in topic.naming.window]
    for key in [*keys, *windows]:
        pd.testing.assert_series_equal(got[key], want[key], check_dtype=False)
    for column in got.columns.drop([*keys, *windows]):
        a, b = got[column].to_numpy(float), want[column].to_numpy(float)
        if column.startswith(EXACT) or column in topic.domain_counts:
            assert np.array_equal(a, b, equal_nan=True), column
        else:
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=column)


def test_iot_consumer_columns_exist(pipeline_config):
    topic = pipeline_config.topic("iot-events")
    names = compute_window_stats(empty_raw_table(topic), topic, 60).schema.names
    required = [
        *["window_start", "window_end", "device_id", "device_type", "location", "unit"],
        *["avg_value", "event_count", "min_value", "max_value", "stddev_value"],
        *["avg_event_duration", "avg_battery_level", "avg_signal_strength"],
        *["low_battery_count", "weak_signal_count"],
    ]
    assert set(required) <= set(names)


def test_windows_are_epoch_aligned_and_nan_is_missing(pipeline_config):
    topic = pipeline_config.topic("observatory.telemetry")
    times = [HOUR + timedelta(seconds=s) for s in (0.5, 59.9, 60.0, 61)]
    raw = pa.table(
        {
            "source": ["a"] * 4,
            **{f"value{i}": [1.0, float("nan"), None, 3.0] for i in range(1, 7)},
            "ts": [0] * 4,
            "event_time": pa.array(times, pa.timestamp("us", tz="UTC")),
        }
    )
    out = compute_window_stats(raw, topic, 60).to_pylist()
    assert [(r["window_start"], r["event_count"], r["count_value1"]) for r in out] == [
        (HOUR, 2, 1),
        (HOUR + timedelta(minutes=1), 2, 1),
    ]
    assert out[1]["mean_value1"] == 3.0 and out[1]["stddev_value1"] is None


def test_empty_hour_keeps_schema(pipeline_config):
    topic = pipeline_config.topic("iot-events")
    raw = make_raw_hour(topic, HOUR, rows=0)
    out = compute_window_stats(raw, topic, 60)
    assert out.num_rows == 0
    assert out.schema == compute_window_stats(make_raw_hour(topic, HOUR, 10), topic, 60).schema


def test_quote_identifier_doubles_quotes():
    assert quote_identifier('we"ird') == '"we""ird"'


def _layout(groups: np.ndarray) -> GroupLayout:
    return group_windows([(groups, int(groups.max()) + 1)]).layout


@pytest.mark.parametrize("seed", range(4))
def test_field_stats_are_exact_for_near_ties(seed):
    """Values one ulp apart, infinities, extremes, NaN and groups of very different sizes."""
    rng = np.random.default_rng(seed)
    n = 6000
    base = rng.choice([0.0, 1.0, -1.0, 1e300, -1e300, 5e-324], n)
    values = np.nextafter(base, rng.choice([np.inf, -np.inf], n))
    values[rng.random(n) < 0.05] = np.inf
    values[rng.random(n) < 0.05] = -np.inf
    values[rng.random(n) < 0.05] = np.nan
    values[rng.random(n) < 0.3] = 1.0
    groups = np.where(rng.random(n) < 0.5, 0, rng.integers(1, 300, n))  # one big group
    groups[-3:] = 300  # a group with nothing but NaN
    values[-3:] = np.nan
    layout = _layout(groups)
    stats = field_stats(values, layout)
    assert [len(g) for g, _ in layout.classes] and len(layout.classes) > 3
    for g in range(301):
        mine = values[groups == g]
        kept = np.sort(mine[~np.isnan(mine)])
        assert stats["count"][g] == kept.size
        if kept.size == 0:
            assert np.isnan([stats[k][g] for k in ("min", "max", "median", "sum")]).all()
            continue
        assert stats["min"][g] == kept[0] and stats["max"][g] == kept[-1]
        want = (kept[(kept.size - 1) // 2] + kept[kept.size // 2]) / 2
        assert stats["median"][g] == want or (np.isnan(want) and np.isnan(stats["median"][g]))


def test_field_stats_match_numpy():
    values = np.array([3.0, 1.0, 2.0, np.nan, 7.0, 5.0, np.nan])
    layout = _layout(np.array([0, 0, 0, 0, 2, 2, 3]))  # group 1 is empty: only 0, 2, 3 exist
    stats = field_stats(values, layout, {"not_three": lambda v: v != 3.0})
    assert stats["not_three"].tolist() == [2, 2, 0]  # a missing value is never counted
    assert stats["count"].tolist() == [3, 2, 0]
    assert stats["median"][:2].tolist() == [2.0, 6.0]
    assert stats["min"][:2].tolist() == [1.0, 5.0] and stats["max"][:2].tolist() == [3.0, 7.0]
    assert stats["stddev"][:2].tolist() == [1.0, np.std([7.0, 5.0], ddof=1)]
    assert stats["sum"][:2].tolist() == [6.0, 12.0]
    assert np.isnan([stats[k][2] for k in ("median", "sum", "mean", "stddev", "min")]).all()


@pytest.mark.parametrize("cardinality", [50, 1 << 55])
def test_groups_follow_the_key_tuple_order(cardinality, monkeypatch):
    """Rows are laid out by (window, key), stably; groups are output in (key, window) order.

    Also where combined codes are too wide and must be renumbered first.
    """
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 50, 5000) * (cardinality // 50)
    windows = rng.integers(0, 7, 5000)
    monkeypatch.setattr("aggregator_assets.windows.groups._MAX_CODE", 1 << 30)
    grouped = group_windows([(keys, cardinality), (windows, 7)])
    order = grouped.layout.order
    assert np.array_equal(order, np.lexsort((np.arange(5000), keys, windows)))
    firsts = grouped.rows[grouped.output]
    assert (np.diff(keys[firsts] // (cardinality // 50) * 7 + windows[firsts]) > 0).all()
    assert grouped.layout.counts.sum() == 5000


@pytest.mark.parametrize("profile", ["default", "kafka-aggregator"])
def test_checks_catch_planted_faults(pipeline_config, profile):
    topic = pipeline_config.topic("iot-events").model_copy(update={"window_naming": profile})

    def check_windows_of(raw: pa.Table, raw_rows: int) -> list:
        windows = compute_window_stats(raw, topic, 60)
        return check_windows(windows, raw_rows, HOUR, "device_id", topic.naming)

    raw = make_raw_hour(topic, HOUR, rows=500)
    assert all(o.passed for o in check_windows_of(raw, raw.num_rows))

    nulled = raw.set_column(
        raw.schema.get_field_index("device_id"),
        "device_id",
        pa.array([None, *raw["device_id"].to_pylist()[1:]], pa.string()),
    )
    late = raw.set_column(
        raw.schema.get_field_index("event_time"),
        "event_time",
        pa.concat_arrays(
            [
                pa.array([HOUR + timedelta(hours=2)], pa.timestamp("us", tz="UTC")),
                raw["event_time"].combine_chunks()[1:],
            ]
        ),
    )
    failing = {
        "nulls": check_windows_of(nulled, 500),
        "late": check_windows_of(late, 500),
        "count": check_windows_of(raw, 501),
    }
    status = {k: {o.name: o.passed for o in v} for k, v in failing.items()}
    assert status["nulls"] == {
        "window_counts_match_raw": True,
        "no_null_keys": False,
        "windows_inside_hour": True,
    }
    assert not status["late"]["windows_inside_hour"]
    assert not status["count"]["window_counts_match_raw"]
    merged = {o.name: o for o in merge_outcomes({"h1": failing["nulls"], "h2": failing["late"]})}
    assert merged["no_null_keys"].metadata["failing_hours"] == ["h1"]
    assert merged["no_null_keys"].metadata["first_failure"]["null_key_rows"] == 1


@pytest.mark.parametrize("profile", ["default", "kafka-aggregator"])
def test_plot_is_png(pipeline_config, profile):
    topic = pipeline_config.topic("iot-events").model_copy(update={"window_naming": profile})
    windows = compute_window_stats(make_raw_hour(topic, HOUR, 2000), topic, 60)
    fields = topic.aggregated_fields
    png = plot_windows_png(windows, "device_id", fields, naming=topic.naming)
    assert png is not None and png.startswith(b"\x89PNG")
    assert plot_windows_png(windows.slice(0, 0), "device_id", fields, naming=topic.naming) is None
