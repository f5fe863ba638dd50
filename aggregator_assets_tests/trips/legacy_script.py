"""The vehicle teams' legacy trip script, run as they run it, and a row-by-row comparison.

The script lives in `../shared/legacy/` relative to the project root and is never copied into
the project: tests and the trip benchmark run that file (`python SCRIPT AGG LAKE DAY`), which
writes `<lake>/aggregations/tripsummary/YYYY/MM/DD/YYYYMMDD.parquet`.
"""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from aggregator_assets.trips.legacy import legacy_output_path, legacy_rows

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = PROJECT_ROOT / ".." / "shared" / "legacy" / "trip_summary_script.py"
KEYS = ["DeviceID", "TripStart", "Message", "Signal", "Aggregation"]


@dataclass(frozen=True)
class ScriptRun:
    table: pa.Table | None  # None: the script wrote no file (a day without results)
    errors: list[str]  # the "Error processing ..." lines it printed (and then skipped)
    seconds: float


def run_legacy_script(aggregations: Path, lake: Path, day: datetime) -> ScriptRun:
    """Run the script on `lake` for `day` in a child process; read what it wrote."""
    if not SCRIPT.is_file():
        raise FileNotFoundError(f"the legacy script is not at {SCRIPT} (see ../shared/README.md)")
    out = lake / legacy_output_path(day)
    out.unlink(missing_ok=True)
    started = datetime.now()
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(aggregations), str(lake), f"{day:%Y-%m-%d}"],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = (datetime.now() - started).total_seconds()
    errors = [line for line in done.stdout.splitlines() if line.startswith("Error")]
    return ScriptRun(pq.read_table(out) if out.exists() else None, errors, seconds)


def _rows(table: pa.Table | None) -> dict[tuple, dict]:
    if table is None:
        return {}
    rows = table.to_pylist()
    keyed = {tuple(row[k] for k in KEYS): row for row in rows}
    assert len(keyed) == len(rows), "two rows with the same key"
    return keyed


def _same_float(a: float | None, b: float | None, rel: float, abs_: float) -> bool:
    missing = [x is None or math.isnan(x) for x in (a, b)]
    if any(missing):
        return all(missing)
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def legacy_differences(
    ours: pa.Table, script: pa.Table | None, duration_abs: float = 0.0
) -> list[str]:
    """How our legacy-mode rows of the script's aggregations differ from the script's: same
    rows (by device, TripStart, message, signal, aggregation), equal TripID, TripEnd, Count,
    Cluster, Duration (exactly, or to `duration_abs` seconds) and Value to 1e-9 relative; NaN
    and null are both "no value". Empty when they agree."""
    mine, theirs = _rows(legacy_rows(ours)), _rows(script)
    problems = [f"only ours: {k}" for k in mine.keys() - theirs.keys()]
    problems += [f"only the script's: {k}" for k in theirs.keys() - mine.keys()]
    for key in mine.keys() & theirs.keys():
        a, b = mine[key], theirs[key]
        for column in ("TripID", "TripEnd", "Count", "Cluster"):
            if a[column] != b[column]:
                problems.append(f"{key} {column}: ours {a[column]!r}, script {b[column]!r}")
        if not _same_float(a["Duration"], b["Duration"], 0.0, duration_abs):
            problems.append(f"{key} Duration: ours {a['Duration']!r}, script {b['Duration']!r}")
        if not _same_float(a["Value"], b["Value"], 1e-9, 0.0):
            problems.append(f"{key} Value: ours {a['Value']!r}, script {b['Value']!r}")
    return sorted(problems)
