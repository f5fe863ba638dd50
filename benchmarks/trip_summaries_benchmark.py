"""Per-trip summaries: the vehicle teams' legacy script vs our trip transform, same lake.

The baseline is the script users run today (`../shared/legacy/trip_summary_script.py`, run
unchanged in a child process), never a re-implementation. Builds a vehicle lake as pandas
writes it (`<root>/<device_id>/<message>/YYYY/MM/DD/part.parquet`, `t` timestamp[us]; three
GNSS messages at `--hz` while driving, trips of 15-90 min parted by 11-75 min parks) for one
day, then runs in turn, each in its own child process:
(a) the script for that day, and
(b) our asset's transform (`external_source` + `summarize_day`) in legacy mode, and again in
    the default mode (timed only: its rows differ by design, see the README's migration notes).
It checks that (b) in legacy mode equals the script row for row, and prints the times, the
speedup in wall and CPU time (the transform's own, after imports; and of the whole process),
the peak resident memory of each child (sampled every 10 ms) and the load average before and
after each side (the machine is shared: judge figures by the load, repeat when high).

    .venv/bin/python benchmarks/trip_summaries_benchmark.py                  # 20 devices, 10 Hz
    .venv/bin/python benchmarks/trip_summaries_benchmark.py --root /tmp/triplake  # keep the lake
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
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

DAY = datetime(2026, 11, 2, tzinfo=timezone.utc)
MESSAGES = {
    "CAN2_gnss_speed": ["Speed"],
    "CAN2_gnss_altitude": ["Altitude"],
    "CAN2_gnss_imu": ["AccelerationX", "AccelerationY", "AccelerationZ"],
}


def aggregations_json(devices: int) -> dict:
    """The demo cluster's aggregations (avg, max, min, median, first, last, stdev) for every
    device: what the script computes plus the aggregations it skips."""
    demo = json.loads(
        (Path(__file__).parents[1] / "aggregator_assets/config/trips_aggregations.json").read_text()
    )
    details = next(entry["cluster1"] for entry in demo["cluster_details"] if "cluster1" in entry)
    ids = [f"veh-{i + 1:04d}" for i in range(devices)]
    return {
        "device_clusters": [{"devices": ids, "cluster": "c"}],
        "cluster_details": [{"c": details}],
    }


def build_lake(root: Path, devices: int, hz: float, seed: int) -> int:
    """One day of trips per device; t as timestamp[us] (what pandas writes). Returns rows."""
    rng = np.random.default_rng(seed)
    start = DAY.timestamp()
    end = start + 86400
    rows = 0
    for i in range(devices):
        device = f"veh-{i + 1:04d}"
        t, chunks = start + rng.uniform(0, 3600), []
        while t < end:
            length = rng.uniform(15 * 60, 90 * 60)
            chunks.append(np.arange(t, min(t + length, end), 1 / hz))
            t += length + rng.uniform(11 * 60, 75 * 60)
        times = np.concatenate(chunks)
        for n, (message, signals) in enumerate(MESSAGES.items()):
            micros = np.round((times + 0.01 * n) * 1e6).astype("int64")
            micros = micros[micros < end * 1e6]
            cols = {"t": pa.array(micros, pa.int64()).cast(pa.timestamp("us"))}
            cols.update({s: rng.normal(50, 15, len(micros)) for s in signals})
            folder = root / device / message / f"{DAY:%Y/%m/%d}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table(cols), folder / "part.parquet")
            rows += len(micros)
        print(f"  built {i + 1}/{devices} devices ({rows:,} samples)", flush=True)
    return rows


def run_child(argv: list[str]) -> tuple[float, float, float, str]:
    """Run a child process: (wall seconds, CPU seconds of all its threads, peak RSS in MiB
    sampled every 10 ms, stdout). CPU time is the figure a busy machine skews least."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        try:
            peak = max(peak, proc.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.01)
    out, err = child.communicate()
    wall = time.perf_counter() - started
    if child.returncode:
        raise RuntimeError(f"{argv[:3]} failed:\n{err[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, peak / 2**20, out


def ours(root: Path, aggregations: Path, mode: str, out: Path, memory_limit: str) -> None:
    """Child (b): our asset's transform on the lake, timed after the imports."""
    from aggregator_assets.lake import Lake
    from aggregator_assets.trips import TripsConfig, load_aggregations
    from aggregator_assets.trips.sources import external_source
    from aggregator_assets.trips.summarize import summarize_day

    config = TripsConfig(
        aggregations=load_aggregations(aggregations),
        trip_windows=mode,
        duckdb_memory_limit=memory_limit,
    )
    me = psutil.Process()
    imported = me.memory_info().rss / 2**20
    t0, cpu0 = time.perf_counter(), me.cpu_times()
    source = external_source(Lake(str(root)), "", DAY, config)
    summary = summarize_day(source, DAY, config)
    seconds, cpu1 = time.perf_counter() - t0, me.cpu_times()
    pq.write_table(summary.table, out)
    cpu = cpu1.user + cpu1.system - cpu0.user - cpu0.system
    report = {"seconds": seconds, "cpu_s": cpu, "rss_after_imports_mb": imported}
    report["files"] = source.files
    print(json.dumps(report | {"trips": summary.trips, "rows": summary.table.num_rows}))


def _load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--hz", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory_limit")
    parser.add_argument("--root", type=Path, help="keep the lake here, or reuse the one there")
    parser.add_argument(
        "--ours", nargs=4, metavar=("ROOT", "AGGS", "MODE", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.ours:
        root, aggs, mode, out = args.ours
        ours(Path(root), Path(aggs), mode, Path(out), args.memory_limit)
        return

    from aggregator_assets.trips.legacy import legacy_output_path
    from aggregator_assets_tests.trips.legacy_script import SCRIPT, legacy_differences

    with tempfile.TemporaryDirectory(prefix="trips-bench-") as tmp:
        root = args.root or Path(tmp) / "lake"
        aggs = root / "aggregations.json"
        if aggs.is_file():
            files = root.glob("veh-*/*/*/*/*/*.parquet")
            rows = sum(pq.read_metadata(f).num_rows for f in files)
            print(f"reusing the lake at {root} ({rows:,} samples)", flush=True)
        else:
            print(f"building {root}: {args.devices} devices, one day at {args.hz:g} Hz", flush=True)
            rows = build_lake(root, args.devices, args.hz, args.seed)
            aggs.write_text(json.dumps(aggregations_json(args.devices)))

        figures: dict[str, object] = {"devices": args.devices, "hz": args.hz, "samples": rows}
        script_out = root / legacy_output_path(DAY)
        script_out.unlink(missing_ok=True)
        print("(a) the legacy script", flush=True)
        figures["load_before_script"] = _load()
        script_s, script_cpu, script_mb, _ = run_child(
            [sys.executable, str(SCRIPT), str(aggs), str(root), f"{DAY:%Y-%m-%d}"]
        )
        figures["load_after_script"] = _load()
        script = pq.read_table(script_out)

        results = {}
        for mode in ("legacy", "gaps"):
            print(f"(b) ours, trip_windows: {mode}", flush=True)
            out = Path(tmp) / f"ours-{mode}.parquet"
            figures[f"load_before_ours_{mode}"] = _load()
            argv = [sys.executable, __file__, "--memory-limit", args.memory_limit]
            argv += ["--ours", str(root), str(aggs), mode, str(out)]
            wall, _, peak, stdout = run_child(argv)
            figures[f"load_after_ours_{mode}"] = _load()
            report = json.loads(stdout.splitlines()[-1])
            results[mode] = (report, wall, peak, pq.read_table(out))

        legacy, legacy_wall, legacy_mb, legacy_table = results["legacy"]
        differences = legacy_differences(legacy_table, script)
        figures |= {
            "files": legacy["files"],
            "trips_legacy": legacy["trips"],
            "script_rows": script.num_rows,
            "ours_legacy_rows": legacy["rows"],
            "script_s": round(script_s, 2),
            "ours_legacy_transform_s": round(legacy["seconds"], 2),
            "speedup_transform": round(script_s / legacy["seconds"], 1),
            "script_cpu_s": round(script_cpu, 2),
            "ours_legacy_transform_cpu_s": round(legacy["cpu_s"], 2),
            "speedup_transform_cpu": round(script_cpu / legacy["cpu_s"], 1),
            "ours_legacy_process_s": round(legacy_wall, 2),
            "speedup_process": round(script_s / legacy_wall, 1),
            "peak_rss_script_mb": round(script_mb),
            "peak_rss_ours_legacy_mb": round(legacy_mb),
            "rss_ours_after_imports_mb": round(legacy["rss_after_imports_mb"]),
            "ours_gaps_transform_s": round(results["gaps"][0]["seconds"], 2),
            "peak_rss_ours_gaps_mb": round(results["gaps"][2]),
            "legacy_mode_equals_script": not differences,
        }
        print(json.dumps(figures, indent=2))
        if differences:
            print("\n".join(differences[:20]), file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
