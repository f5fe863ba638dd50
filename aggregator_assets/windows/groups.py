"""Dense window-group ids of a raw hour: one integer per (key fields, window) row.

Every statistic is then a vectorised operation over integer ids (bincount, one sort), instead of
a hash aggregation over string keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_MAX_CODE = 1 << 62


@dataclass(frozen=True)
class WindowGroups:
    """`ids[i]` is the group of raw row i; `rows[g]` is some raw row of group g."""

    ids: np.ndarray
    count: int
    rows: np.ndarray


def key_codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Integer codes of a key column in the order of its values, null last, and those values.

    A column read as a dictionary (Parquet `read_dictionary`) keeps its codes, so its strings
    are never materialised; any other column is dictionary-encoded here.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.unify_dictionaries() if pa.types.is_dictionary(column.type) else column
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    values = column.dictionary
    order = pc.sort_indices(values).to_numpy()
    rank = np.empty(len(values) + 1, np.int32)
    rank[order] = np.arange(len(values), dtype=np.int32)
    rank[-1] = len(values)
    indices = pc.fill_null(column.indices, pa.scalar(len(values), column.indices.type))
    dictionary = pa.concat_arrays([values.take(order), pa.nulls(1, values.type)])
    return rank[indices.to_numpy()], dictionary


def window_codes(event_time: pa.ChunkedArray, window_us: int) -> tuple[np.ndarray, int, int]:
    """Window index minus the hour's first (windows are epoch-aligned); null time is the last.

    Returns the codes, the first window index and the number of codes.
    """
    micros = pc.cast(pc.cast(event_time, pa.timestamp("us", tz="UTC")), pa.int64())
    valid = pc.is_valid(micros).to_numpy(zero_copy_only=False)
    index = np.floor_divide(pc.fill_null(micros, 0).to_numpy(), window_us)
    first = int(index[valid].min()) if valid.any() else 0
    codes = index - first
    null_code = int(codes[valid].max()) + 1 if valid.any() else 0
    codes[~valid] = null_code
    return codes, first, null_code + 1


def _densify(codes: np.ndarray) -> tuple[np.ndarray, int]:
    encoded = pc.dictionary_encode(pa.array(codes))
    return encoded.indices.to_numpy().astype(np.int64), len(encoded.dictionary)


def group_windows(parts: list[tuple[np.ndarray, int]]) -> WindowGroups:
    """Groups of equal code tuples, numbered in the tuples' order (so the output needs no sort).

    `parts` are (codes, cardinality) per key, window last.
    """
    combined, cardinality = np.zeros(len(parts[0][0]), np.int64), 1
    for codes, size in parts:
        if cardinality * size >= _MAX_CODE:
            combined, cardinality = _densify(combined)
        combined = combined * size + codes
        cardinality *= size
    if cardinality <= len(combined) // 4 + 1024:
        present = np.bincount(combined, minlength=cardinality) > 0
        dense = np.cumsum(present) - 1
        ids, count = dense[combined], int(present.sum())
    else:
        ids, count = _densify(combined)
    rows = np.empty(count, np.int64)
    rows[ids] = np.arange(len(ids))
    order = np.lexsort([codes[rows] for codes, _ in reversed(parts)])
    relabel = np.empty(count, np.int64)
    relabel[order] = np.arange(count)
    return WindowGroups(relabel[ids], count, rows[order])
