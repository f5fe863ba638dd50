"""Benchmark: our window statistics against a pandas groupby on the same raw hour.

    .venv/bin/python benchmarks/window_stats_benchmark.py --rows 3000000 --devices 2000

Generates one iot-events raw hour (raw schema of CONTRACTS.md, NaN and nulls included), then runs
the two sides alternately, `--repeat` times each, every run in a fresh subprocess (so peak RSS is
that side's own): read the Parquet file, compute the same statistics per (device, dimensions,
1-minute window). Alternating spreads the load of other jobs on the machine over both sides; the
best time of each side is compared (wall clock, and CPU time, which other jobs disturb less),
and the load average is printed before and after. Prints
rows/s, the speed ratio and peak memory, and checks the two results agree.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd

from aggregator_assets.config import load_pipeline_config
from aggregator_assets.windows.compute import compute_window_stats, raw_read_options

TOPIC = "iot-events"
HOUR = datetime(2026, 11, 2, 10, tzinfo=timezone.utc)
EXACT = ("event_count", "count_", "min_", "max_", "median_")


def generate(path: Path, rows: int, devices: int, seed: int = 0) -> None:
    """A raw hour of `rows` random iot-events records, built column-wise with numpy."""
    rng = np.random.default_rng(seed)
    device = rng.integers(0, devices, rows)
    ids = pa.array([f"dev-{i:05d}" for i in range(devices)]).take(pa.array(device))
    kinds = pa.array(["thermo", "hygro", "baro"]).take(pa.array(device % 3))
    places = pa.array(["north", "south", "east", "west", None]).take(pa.array(device % 5))
    units = pa.array(["C", "%", "hPa"]).take(pa.array(device % 3))
    start_us = int(HOUR.timestamp() * 1_000_000)
    offsets = np.sort(rng.integers(0, 3_600_000_000, rows))

    def floats(mean: float, spread: float) -> pa.Array:
        values = rng.normal(mean, spread, rows)
        values[rng.random(rows) < 0.01] = np.nan
        return pa.array(values, mask=rng.random(rows) < 0.02)

    def ints(low: int, high: int) -> pa.Array:
        return pa.array(rng.integers(low, high, rows), mask=rng.random(rows) < 0.02)

    battery, signal = ints(0, 101), ints(-120, 0)
    table = pa.table(
        {
            "event_duration": floats(2.0, 0.5),
            "device_type": kinds,
            "device_id": ids,
            "timestamp": pa.array(np.full(rows, "2026-11-02T10:00:00Z")),
            "location": places,
            "value": floats(20.0, 5.0),
            "unit": units,
            "battery_level": battery,
            "signal_strength": signal,
            "metadata": pa.nulls(rows, pa.string()),
            "is_valid_battery": pa.array(np.asarray(battery.fill_null(0)) >= 20),
            "is_valid_signal": pa.array(np.asarray(signal.fill_null(0)) >= -90),
            "event_time": pa.array(start_us + offsets).cast(pa.timestamp("us", tz="UTC")),
            "kafka_partition": pa.array(device % 6, pa.int32()),
            "kafka_offset": pa.array(np.arange(rows)),
            "kafka_timestamp": pa.array((start_us + offsets) // 1000).cast(
                pa.timestamp("ms", tz="UTC")
            ),
            "is_late": pa.array(np.zeros(rows, dtype=bool)),
        }
    )
    pq.write_table(table, path, compression="zstd", row_group_size=256 * 1024)


def run_ours(path: Path, window_s: int) -> pa.Table:
    topic = load_pipeline_config().topic(TOPIC)
    raw = pq.read_table(path, **raw_read_options(topic))
    return compute_window_stats(raw, topic, window_s)


def run_pandas(path: Path, window_s: int) -> pa.Table:
    """The obvious pandas version: read, floor to the window, one groupby with named aggs."""
    topic = load_pipeline_config().topic(TOPIC)
    keys = [topic.key_field, *topic.dimensions]
    df = pd.read_parquet(path, columns=[*keys, *topic.aggregated_fields, "event_time"])
    df["window_start"] = df["event_time"].dt.floor(f"{window_s}s")
    ops = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
    for name, cond in topic.domain_counts.items():
        df[name] = getattr(df[cond.field], ops[cond.op])(cond.value)
    aggs = {"event_count": ("event_time", "size")}
    for f in topic.aggregated_fields:
        for stat, how in [
            ("count", "count"),
            ("min", "min"),
            ("max", "max"),
            ("mean", "mean"),
            ("median", "median"),
            ("stddev", "std"),
            ("sum", "sum"),
        ]:
            aggs[f"{stat}_{f}"] = (f, how)
    aggs.update({name: (name, "sum") for name in topic.domain_counts})
    out = df.groupby([*keys, "window_start"], dropna=False, sort=True).agg(**aggs).reset_index()
    out["window_end"] = out["window_start"] + pd.Timedelta(seconds=window_s)
    return pa.Table.from_pandas(out, preserve_index=False)


def peak_rss_kb() -> int:
    """This process's peak RSS. VmHWM resets at exec; ru_maxrss would inherit the parent's."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(side: str, path: Path, window_s: int, out: Path) -> None:
    baseline_kb = peak_rss_kb()
    started, cpu_started = time.perf_counter(), time.process_time()
    result = (run_ours if side == "ours" else run_pandas)(path, window_s)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    peak_kb = peak_rss_kb()
    pq.write_table(result, out)
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "cpu_seconds": cpu,
                "peak_mb": peak_kb / 1024,
                "import_mb": baseline_kb / 1024,
                "windows": result.num_rows,
            }
        )
    )


def measure(side: str, path: Path, window_s: int, out: Path) -> dict:
    print(f"[{side}] running in a fresh process...", flush=True)
    cmd = [
        sys.executable,
        __file__,
        "--child",
        side,
        "--file",
        str(path),
        "--window",
        str(window_s),
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(ours: Path, theirs: Path) -> str:
    keys = ["device_id", "device_type", "location", "unit", "window_start"]
    a = pq.read_table(ours).to_pandas().sort_values(keys, na_position="last").reset_index(drop=True)
    b = pq.read_table(theirs).to_pandas().sort_values(keys, na_position="last")
    b = b.reset_index(drop=True)
    assert len(a) == len(b), (len(a), len(b))
    worst = 0.0
    for column in b.columns.drop([*keys, "window_end"]):
        x, y = a[column].to_numpy(float), b[column].to_numpy(float)
        if column.startswith("sum_"):
            y = np.where(a[column.replace("sum_", "count_")].to_numpy() == 0, np.nan, y)
        if column.startswith(EXACT) or column in load_pipeline_config().topic(TOPIC).domain_counts:
            assert np.array_equal(x, y, equal_nan=True), f"{column} differs"
        both = ~(np.isnan(x) & np.isnan(y))
        rel = np.abs(x[both] - y[both]) / np.maximum(np.abs(y[both]), 1e-12)
        worst = max(worst, float(np.nanmax(rel, initial=0.0)))
        assert np.isnan(x[both]).sum() == 0 or pd.isna(y[both]).sum() > 0, column
    assert worst < 1e-9, worst
    return (
        f"results agree ({len(a):,} windows; counts, min, max, median exact; worst relative "
        f"difference of mean, stddev, sum {worst:.1e})"
    )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" (1/5/15 min, {os.cpu_count()} CPUs)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--devices", type=int, default=2_000)
    parser.add_argument("--window", type=int, default=60, help="window size in seconds")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side, alternated")
    parser.add_argument("--child", choices=["ours", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.file, args.window, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "part-0.parquet"
        print(f"generating {args.rows:,} raw rows for {args.devices:,} devices...", flush=True)
        generate(path, args.rows, args.devices)
        print(f"raw hour: {path.stat().st_size / 1e6:.1f} MB Parquet", flush=True)
        print(f"load average before: {_load()}", flush=True)
        runs: dict[str, list[dict]] = {"ours": [], "pandas": []}
        for _ in range(args.repeat):
            for side in runs:
                out = Path(tmp) / f"{side}.parquet"
                runs[side].append(measure(side, path, args.window, out))
        print("[both] timing warm runs in this one process, alternated...", flush=True)
        warm: dict[str, list[float]] = {"ours": [], "pandas": []}
        for _ in range(args.repeat):
            for side, run in (("ours", run_ours), ("pandas", run_pandas)):
                started = time.perf_counter()
                run(path, args.window)
                warm[side].append(time.perf_counter() - started)
        print(f"load average after: {_load()}")
        for side, r in runs.items():
            first = min(x["seconds"] for x in r)
            peak = max(x["peak_mb"] for x in r)
            print(
                f"{side:>7}: warm best {min(warm[side]):.2f} s of"
                f" [{', '.join(f'{t:.2f}' for t in warm[side])}],"
                f" {args.rows / min(warm[side]):,.0f} rows/s; fresh process best {first:.2f} s;"
                f" peak RSS {peak:.0f} MB (after imports {r[0]['import_mb']:.0f} MB),"
                f" {r[0]['windows']:,} windows"
            )
        ratio = min(warm["pandas"]) / min(warm["ours"])
        fresh = min(x["seconds"] for x in runs["pandas"]) / min(x["seconds"] for x in runs["ours"])
        cpu_ratio = min(x["cpu_seconds"] for x in runs["pandas"]) / min(
            x["cpu_seconds"] for x in runs["ours"]
        )
        print(
            f"speed-up: {ratio:.1f}x warm in one process (target >= 3x);"
            f" {fresh:.1f}x in fresh processes, {cpu_ratio:.1f}x CPU time"
        )
        print(compare(Path(tmp) / "ours.parquet", Path(tmp) / "pandas.parquet"))


if __name__ == "__main__":
    main()
