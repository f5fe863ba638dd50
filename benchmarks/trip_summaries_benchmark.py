"""Per-trip summaries: the naive per-trip pandas script vs our DuckDB transform, same lake.

Builds an external-layout lake (`<root>/<device_id>/<message>/YYYY/MM/DD/part.parquet`, three
GNSS messages at 1 Hz while driving) for the day before, the day and the day after, then times
(a) what vehicle teams' local scripts do: for each device read its trip-identifier files and
find trips, then for every trip and aggregation re-read the message files and filter, and
(b) `summarize_day` over `external_lake_dataset` (on a local lake DuckDB reads the files itself).
Prints both times, the speedup, the peak resident memory of each step (sampled) and the 1-minute
load average after each (other jobs on the machine skew both sides; repeat when it is high).

    .venv/bin/python benchmarks/trip_summaries_benchmark.py --devices 100
    .venv/bin/python benchmarks/trip_summaries_benchmark.py --devices 50 --root /tmp/lake50
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from aggregator_assets.config import default_config_path
from aggregator_assets.lake import Lake
from aggregator_assets.trips import (
    TripsConfig,
    external_lake_dataset,
    load_aggregations,
    parse_aggregations,
    summarize_day,
)
from aggregator_assets.trips.summarize import scan_window

DAY = datetime(2026, 11, 2, tzinfo=timezone.utc)
MESSAGES = {
    "CAN2_gnss_speed": ["Speed"],
    "CAN2_gnss_altitude": ["Altitude"],
    "CAN2_gnss_imu": ["AccelerationX", "AccelerationY", "AccelerationZ"],
}


class PeakMemory:
    """Samples this process's RSS every 20 ms; `.peak_mb` after the block."""

    def __enter__(self) -> PeakMemory:
        self._proc, self._stop, self.peak = psutil.Process(), threading.Event(), 0
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(0.02)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


def build_lake(root: Path, devices: int, hz: float, seed: int) -> int:
    """Trips of 15-90 min parted by 11-75 min parks over three days; returns rows written."""
    rng = np.random.default_rng(seed)
    start, end = (DAY - timedelta(days=1)).timestamp(), (DAY + timedelta(days=2)).timestamp()
    rows = 0
    for i in range(devices):
        device = f"veh-{i + 1:04d}"
        t, chunks = start + rng.uniform(0, 3600), []
        while t < end:
            length = rng.uniform(15 * 60, 90 * 60)
            chunks.append(np.arange(t, min(t + length, end), 1 / hz))
            t += length + rng.uniform(11 * 60, 75 * 60)
        times = np.concatenate(chunks)
        for message, signals in MESSAGES.items():
            for day in range(3):
                lo = start + day * 86400
                sel = times[(times >= lo) & (times < lo + 86400)]
                cols = {"t": sel + 0.1 * list(MESSAGES).index(message)}
                cols.update({s: rng.normal(50, 15, len(sel)) for s in signals})
                when = datetime.fromtimestamp(lo, tz=timezone.utc)
                folder = root / device / message / f"{when:%Y/%m/%d}"
                folder.mkdir(parents=True, exist_ok=True)
                pq.write_table(pa.table(cols), folder / "part.parquet")
                rows += len(sel)
        if (i + 1) % 25 == 0 or i + 1 == devices:
            print(f"  built {i + 1}/{devices} devices ({rows:,} samples)", flush=True)
    return rows


def _read_message(root: Path, device: str, message: str) -> pd.DataFrame:
    files = sorted((root / device / message).glob("*/*/*/*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def naive(root: Path, config: TripsConfig) -> pd.DataFrame:
    """The shape of the teams' script: per device, per trip, per aggregation, re-read files."""
    aggs = config.aggregations
    gap = config.max_gap_delta.total_seconds()
    d0, d1 = DAY.timestamp(), (DAY + timedelta(days=1)).timestamp()
    funcs = {
        "avg": pd.Series.mean,
        "max": pd.Series.max,
        "min": pd.Series.min,
        "sum": pd.Series.sum,
        "median": pd.Series.median,
        "stdev": pd.Series.std,
        "first": lambda v: v.iloc[0],
        "last": lambda v: v.iloc[-1],
        "count": pd.Series.count,
    }
    out = []
    devices = sorted(p.name for p in root.iterdir())
    for n, device in enumerate(devices):
        cluster = aggs.device_cluster.get(device)
        if cluster is None:
            continue
        details = aggs.clusters[cluster]
        ident = _read_message(root, device, details.trip_identifier.message).sort_values("t")
        ident = ident.dropna(subset=details.trip_identifier.signal)
        new_trip = ident.t.diff().fillna(gap + 1) > gap
        trips = ident.groupby(new_trip.cumsum()).t.agg(["min", "max"])
        for start, end in trips[(trips["min"] >= d0) & (trips["min"] < d1)].itertuples(index=False):
            for spec in details.aggregations:
                data = _read_message(root, device, spec.message)
                window = data[(data.t >= start) & (data.t <= end)].sort_values("t")
                for signal in spec.signal:
                    values = window[signal].dropna()
                    value = funcs[spec.aggregation](values) if len(values) else None
                    out.append((device, spec.message, signal, spec.aggregation, value, start))
        if (n + 1) % 10 == 0 or n + 1 == len(devices):
            print(f"  naive: {n + 1}/{len(devices)} devices", flush=True)
    return pd.DataFrame(
        out, columns=["DeviceID", "Message", "Signal", "Aggregation", "Value", "TripStart"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--hz", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory_limit")
    parser.add_argument(
        "--root",
        type=Path,
        help="keep the lake here, or reuse the one already there (default: a temp folder)",
    )
    args = parser.parse_args()

    demo = load_aggregations(default_config_path().with_name("trips_aggregations.json"))
    ids = [f"veh-{i + 1:04d}" for i in range(args.devices)]
    details = demo.clusters["cluster1"].model_dump()
    aggs = parse_aggregations(
        {"device_clusters": [{"devices": ids, "cluster": "c"}], "cluster_details": [{"c": details}]}
    )
    config = TripsConfig(aggregations=aggs, duckdb_memory_limit=args.memory_limit)

    with tempfile.TemporaryDirectory(prefix="trips-bench-") as tmp:
        root = args.root or Path(tmp) / "lake"
        if root.is_dir() and any(root.iterdir()):
            rows = sum(pq.read_metadata(f).num_rows for f in root.glob("*/*/*/*/*/*.parquet"))
            print(f"reusing the lake at {root} ({rows:,} samples)", flush=True)
        else:
            print(
                f"building lake at {root}: {args.devices} devices, 3 days, {args.hz} Hz", flush=True
            )
            t0 = time.perf_counter()
            rows = build_lake(root, args.devices, args.hz, args.seed)
            print(f"built {rows:,} samples in {time.perf_counter() - t0:.1f}s", flush=True)

        print("(b) ours: DuckDB over the lake", flush=True)
        with PeakMemory() as mem_ours:
            t0 = time.perf_counter()
            lake = Lake(str(root))
            window = scan_window(DAY, config)
            source, files = external_lake_dataset(lake, "", window, aggs.messages(), aggs.signals())
            ours = summarize_day(source, DAY, config)
            t_ours = time.perf_counter() - t0
        load_ours = os.getloadavg()[0]

        print("(a) naive: per-trip pandas re-reads", flush=True)
        with PeakMemory() as mem_naive:
            t0 = time.perf_counter()
            reference = naive(root, config)
            t_naive = time.perf_counter() - t0
        load_naive = os.getloadavg()[0]

    check = ours.table.to_pandas().merge(
        reference, on=["DeviceID", "Message", "Signal", "Aggregation", "TripStart"]
    )
    agree = np.allclose(check.Value_x, check.Value_y.astype(float), equal_nan=True)
    print(
        json.dumps(
            {
                "devices": args.devices,
                "samples_in_lake": rows,
                "files_read_by_ours": files,
                "trips": ours.trips,
                "rows": ours.table.num_rows,
                "naive_s": round(t_naive, 2),
                "ours_s": round(t_ours, 2),
                "speedup": round(t_naive / t_ours, 1),
                "peak_rss_naive_mb": round(mem_naive.peak_mb),
                "peak_rss_ours_mb": round(mem_ours.peak_mb),
                "load_1m_after_ours": round(load_ours, 2),
                "load_1m_after_naive": round(load_naive, 2),
                "results_agree": bool(
                    agree and len(check) == len(reference) == ours.table.num_rows
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
