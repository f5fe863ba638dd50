"""Exact per-group statistics of a numeric field from one sort by (group, value).

Sorting each field's values by (group id, value) once gives every statistic with sequential
numpy passes and no per-group state: count, min, max and the exact median are read off each
group's segment, sum and sample stddev are segment reductions. NaN counts as missing, like null.

The sort is numpy's (SIMD) sort of one int64 per value: group id, a monotone quantisation of the
value and the value's position, packed high to low. Values that share a quantum can come out of
order; those few runs are re-sorted exactly, so the result is the exact (group, value) order.
"""

from __future__ import annotations

import numpy as np

STAT_NAMES = ("count", "min", "max", "mean", "median", "stddev", "sum")


def _bits(value: int) -> int:
    return max(int(value).bit_length(), 1)


def _quantise(values: np.ndarray, levels: int) -> np.ndarray:
    """Integers in [0, levels) that never decrease as the value grows (ties allowed).

    Rounded arithmetic is monotone, so order is kept; with infinities or a range too wide for a
    float64, the values are halved first and clipped, which is slower but equally monotone.
    """
    low, high = values.min(), values.max()
    if np.isfinite(high - low):
        if levels < 2 or low == high:
            return np.zeros(values.size, np.int64)
        scaled = values - low
        scaled *= (levels - 1) / (high - low)
        return scaled.astype(np.int64)
    finite = values[np.isfinite(values)] / 2
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
    if levels < 2 or low == high:
        return np.zeros(values.size, np.int64)
    scaled = values / 2
    scaled -= low
    scaled *= (levels - 1) / (high - low)
    np.clip(scaled, 0, levels - 1, out=scaled)
    return scaled.astype(np.int64)


def sort_within_groups(
    group_ids: np.ndarray, values: np.ndarray, group_count: int
) -> tuple[np.ndarray, np.ndarray]:
    """The non-missing values ordered by (group, value), and each group's number of them."""
    present = ~np.isnan(values)
    groups, kept = group_ids[present], values[present]
    counts = np.bincount(groups, minlength=group_count)
    if kept.size == 0:
        return kept, counts
    position_bits = _bits(kept.size - 1)
    value_bits = max(63 - position_bits - _bits(group_count - 1), 0)
    packed = _quantise(kept, 1 << value_bits)
    packed <<= position_bits
    packed |= np.arange(kept.size)
    groups <<= value_bits + position_bits
    packed |= groups
    del groups
    packed.sort()
    ordered = kept[packed & ((1 << position_bits) - 1)]
    falls = np.flatnonzero(ordered[1:] < ordered[:-1])
    quanta = packed >> position_bits
    del packed
    unordered = falls[quanta[falls] == quanta[falls + 1]]
    if unordered.size:
        redo = np.flatnonzero(np.isin(quanta, quanta[unordered]))
        ordered[redo] = ordered[redo][np.lexsort((ordered[redo], quanta[redo]))]
    return ordered, counts


def segment_stats(ordered: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """count, min, max, mean, median, stddev (sample), sum per group; NaN where undefined."""
    ends = np.cumsum(counts)
    starts = ends - counts
    filled = counts > 0
    first = starts[filled]
    stats = {name: np.full(counts.size, np.nan) for name in STAT_NAMES[1:]}
    stats["count"] = counts
    if ordered.size == 0:
        return stats
    stats["min"][filled] = ordered[first]
    stats["max"][filled] = ordered[ends[filled] - 1]
    lower = ordered[first + (counts[filled] - 1) // 2]
    upper = ordered[first + counts[filled] // 2]
    stats["median"][filled] = (lower + upper) / 2
    stats["sum"][filled] = np.add.reduceat(ordered, first)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = stats["sum"] / counts
        deviation = ordered - np.repeat(mean, counts)
        squares = np.add.reduceat(deviation * deviation, first)
        spread = counts[filled] > 1
        stddev = np.full(first.size, np.nan)
        stddev[spread] = np.sqrt(squares[spread] / (counts[filled][spread] - 1))
    stats["mean"] = mean
    stats["stddev"][filled] = stddev
    return stats
