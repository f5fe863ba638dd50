"""Data checks of a windows hour, as plain functions of Arrow tables.

The asset reports them as Dagster asset checks; keeping them pure lets tests plant a fault and
see it caught without running Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from aggregator_assets.config.window_naming import NAMINGS, WindowNaming
from aggregator_assets.windows.check_names import (
    CHECK_DESCRIPTIONS,
    COUNTS_MATCH_RAW,
    NO_NULL_KEYS,
    WINDOWS_INSIDE_HOUR,
)
from aggregator_assets.windows.columns import window_bounds


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    metadata: dict[str, object] = field(default_factory=dict)


def check_windows(
    windows: pa.Table,
    raw_rows: int,
    hour: datetime,
    key_field: str,
    naming: WindowNaming = NAMINGS["default"],
) -> list[CheckOutcome]:
    """Run the three checks on one hour's windows; metadata says what is wrong when one fails.

    `naming` is the topic's profile: it says which columns hold the count and the window.
    """
    counts = windows[naming.count]
    counted = pc.sum(counts).as_py() or 0
    null_keys = pc.is_null(windows[key_field])
    null_rows = pc.sum(pc.filter(counts, null_keys)).as_py() or 0
    end = hour + timedelta(hours=1)
    starts, ends = window_bounds(windows, naming)
    outside = pc.invert(
        pc.fill_null(
            pc.and_(pc.greater_equal(starts, pa.scalar(hour)), pc.less_equal(ends, pa.scalar(end))),
            False,
        )
    )
    bad = windows.filter(outside).select([c for c, _ in naming.window])
    return [
        CheckOutcome(
            COUNTS_MATCH_RAW,
            counted == raw_rows,
            {"raw_rows": raw_rows, "window_event_count_sum": counted},
        ),
        CheckOutcome(
            NO_NULL_KEYS,
            null_rows == 0 and pc.sum(null_keys).as_py() in (0, None),
            {"null_key_windows": pc.sum(null_keys).as_py() or 0, "null_key_rows": null_rows},
        ),
        CheckOutcome(
            WINDOWS_INSIDE_HOUR,
            bad.num_rows == 0,
            {
                "windows_outside_hour": bad.num_rows,
                "first_outside": str(bad.slice(0, 1).to_pylist()[0]) if bad.num_rows else "",
            },
        ),
    ]


def merge_outcomes(per_hour: dict[str, list[CheckOutcome]]) -> list[CheckOutcome]:
    """Fold per-hour outcomes of a ranged run into one per check, naming the failing hours."""
    merged = []
    for name in CHECK_DESCRIPTIONS:
        outcomes = {h: o for h, checks in per_hour.items() for o in checks if o.name == name}
        failing = {h: o for h, o in outcomes.items() if not o.passed}
        metadata: dict[str, object] = {"hours_checked": len(outcomes)}
        if len(outcomes) == 1:
            metadata.update(next(iter(outcomes.values())).metadata)
        if failing:
            first_hour, first = next(iter(failing.items()))
            metadata["failing_hours"] = sorted(failing)[:100]
            metadata["first_failure"] = {"hour": first_hour, **first.metadata}
        merged.append(CheckOutcome(name, not failing, metadata))
    return merged
