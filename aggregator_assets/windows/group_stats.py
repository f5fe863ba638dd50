"""Exact per-group statistics of numeric fields, each group a row of a small padded matrix.

Given the rows in group order (`groups.group_windows`), `group_layout` sorts the groups into
size classes (widths 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20 ...: padding under 25%) and
records, per class, the raw row of every cell (padding points at a NaN past the last row).
A field is then gathered straight into those matrices (window-major, so cache-friendly) and each
matrix sorted row-wise (short rows: fast), which gives min, max and the exact median by
position; count, sum, sample stddev and domain counts are row reductions of the same matrix.
No per-group Python, no full sort per field. NaN counts as missing, like null.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

STAT_NAMES = ("count", "min", "max", "mean", "median", "stddev", "sum")


@dataclass(frozen=True)
class GroupLayout:
    """Per size class, its groups and the raw row of each cell (`len(order)` for padding)."""

    order: np.ndarray
    counts: np.ndarray
    classes: tuple[tuple[np.ndarray, np.ndarray], ...]


def _width(counts: np.ndarray) -> np.ndarray:
    """Each count rounded up to the next of 1..8 or 8, 10, 12, 14 times a power of two."""
    widths = counts.copy()
    big = counts > 8
    step = np.left_shift(1, np.ceil(np.log2(counts[big])).astype(np.int64) - 3)
    widths[big] = -(-counts[big] // step) * step
    return widths


def group_layout(
    order: np.ndarray, counts: np.ndarray, starts: np.ndarray, pool: Executor | None = None
) -> GroupLayout:
    """The layout all fields of these groups share; `starts` index `order`, every count > 0."""
    order_padded = np.append(order, len(order))
    widths = _width(counts)

    def size_class(width: int) -> tuple[np.ndarray, np.ndarray]:
        groups = np.flatnonzero(widths == width)
        columns = np.arange(width)
        positions = starts[groups][:, None] + columns
        positions[columns >= counts[groups][:, None]] = len(order)
        return groups, np.take(order_padded, positions)

    mapper = pool.map if pool else map
    return GroupLayout(order, counts, tuple(mapper(size_class, np.unique(widths).tolist())))


def field_stats(
    values: np.ndarray,
    layout: GroupLayout,
    conditions: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
) -> dict[str, np.ndarray]:
    """count, min, max, mean, median, stddev (sample), sum per group; NaN where undefined.

    `values` is the field per raw row (float64, NaN missing). Each of `conditions` adds a
    count per group of the present values it holds for.
    """
    padded = np.append(values, np.nan)
    size = layout.counts.size
    stats = {name: np.empty(size) for name in STAT_NAMES}
    stats["count"] = np.empty(size, np.int64)
    conditions = conditions or {}
    for name in conditions:
        stats[name] = np.empty(size, np.int64)
    for groups, positions in layout.classes:
        matrix = np.take(padded, positions)
        matrix.sort(axis=1)  # NaN (missing and padding) last
        present = ~np.isnan(matrix)
        n = np.count_nonzero(present, axis=1)
        stats["count"][groups] = n
        # Picks by flat index; where n == 0 every pick is column 0 of an all-NaN row: NaN.
        cells = matrix.reshape(-1)
        row = np.arange(0, matrix.size, matrix.shape[1])
        stats["min"][groups] = cells[row]
        stats["max"][groups] = cells.take(row + np.maximum(n - 1, 0))
        lower = cells.take(row + np.maximum((n - 1) // 2, 0))
        with np.errstate(invalid="ignore"):  # -inf and +inf in one group: NaN is right
            stats["median"][groups] = (lower + cells.take(row + n // 2)) / 2
        for name, holds in conditions.items():
            stats[name][groups] = (holds(matrix) & present).sum(axis=1)
        matrix[~present] = 0.0
        with np.errstate(invalid="ignore", divide="ignore"):  # inf - inf, 0 / 0: NaN is right
            total = matrix.sum(axis=1)
            mean = total / n
            matrix -= mean[:, None]
            matrix[~present] = 0.0
            squares = np.einsum("ij,ij->i", matrix, matrix)
            stats["sum"][groups] = np.where(n > 0, total, np.nan)
            stats["mean"][groups] = mean
            stats["stddev"][groups] = np.where(n > 1, np.sqrt(squares / (n - 1)), np.nan)
    return stats
