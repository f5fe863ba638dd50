"""Exact per-group statistics of numeric fields, from rows laid out once in group order.

Given the rows in group order (`groups.group_windows`), `group_layout` sorts the groups into
size classes (up to 1, 2, 4, 8 ... rows). Each field is gathered in group order once: count, sum
and sample stddev are segment reductions over it, and per size class the groups become rows of a
NaN-padded matrix whose row-wise sort (short rows: fast, cache-resident) gives min, max and the
exact median. Padding is under 2x and NaN sorts last: no per-group Python, no full sort per
field. NaN counts as missing, like null.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STAT_NAMES = ("count", "min", "max", "mean", "median", "stddev", "sum")


@dataclass(frozen=True)
class GroupLayout:
    """Rows in group order, and per size class its groups and their rows as a padded matrix.

    `classes` holds (group ids, matrix of positions in group order); padding points one past the
    last row, where the gathered field holds a NaN.
    """

    order: np.ndarray
    counts: np.ndarray
    starts: np.ndarray
    classes: tuple[tuple[np.ndarray, np.ndarray], ...]


def group_layout(order: np.ndarray, counts: np.ndarray, starts: np.ndarray) -> GroupLayout:
    """The layout all fields of these groups share; `starts` index `order`, every count > 0."""
    size_class = np.ceil(np.log2(counts)).astype(np.int64)
    classes = []
    for k in np.unique(size_class):
        groups = np.flatnonzero(size_class == k)
        columns = np.arange(1 << int(k))
        positions = starts[groups][:, None] + columns
        positions[columns >= counts[groups][:, None]] = len(order)
        classes.append((groups, positions))
    return GroupLayout(order, counts, starts, tuple(classes))


def gather(values: np.ndarray, layout: GroupLayout) -> np.ndarray:
    """`values` (float64, NaN missing) in group order, plus one NaN that padding points at."""
    grouped = np.empty(values.size + 1)
    np.take(values, layout.order, out=grouped[:-1])
    grouped[-1] = np.nan
    return grouped


def field_stats(grouped: np.ndarray, layout: GroupLayout) -> dict[str, np.ndarray]:
    """count, min, max, mean, median, stddev (sample), sum per group; NaN where undefined.

    `grouped` is a field as `gather` returns it.
    """
    rows = grouped[:-1]
    present = ~np.isnan(rows)
    count = np.add.reduceat(present, layout.starts, dtype=np.int64)
    known = np.where(present, rows, 0.0)
    total = np.add.reduceat(known, layout.starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        known -= np.repeat(mean, layout.counts)
        known[~present] = 0.0
        squares = np.add.reduceat(known * known, layout.starts)
        stddev = np.sqrt(squares / (count - 1))
    stats = {
        "count": count,
        "sum": np.where(count > 0, total, np.nan),
        "mean": mean,
        "stddev": np.where(count > 1, stddev, np.nan),
        "min": np.empty(count.size),
        "max": np.empty(count.size),
        "median": np.empty(count.size),
    }
    for groups, positions in layout.classes:
        matrix = grouped[positions]
        matrix.sort(axis=1)  # NaN (missing and padding) last
        n, line = count[groups], np.arange(groups.size)
        stats["min"][groups] = matrix[:, 0]
        stats["max"][groups] = matrix[line, np.maximum(n - 1, 0)]
        # With n == 0 both picks are NaN: the last column and the first are padding.
        stats["median"][groups] = (matrix[line, (n - 1) // 2] + matrix[line, n // 2]) / 2
    return stats
