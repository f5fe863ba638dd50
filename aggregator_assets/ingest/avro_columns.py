"""Vectorised Avro decoding of flat records: one numpy pass per field over all bodies at once.

An Avro record body is its fields in order, each a varint, a fixed-width number, or a
length-prefixed string (a union adds a varint branch index first). For a writer schema made of
such fields only, every record's cursor moves field by field in lock-step across the batch, so
a million bodies cost a few dozen array operations instead of a million Python calls. Bodies
that end early are marked truncated; bodies with an impossible union branch, boolean byte or
length, bytes left over, or invalid UTF-8 are marked mismatched. Anything richer (nested
records, arrays, maps, fixed) returns None from `flat_layout`, and the caller reads it with
fastavro instead.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

NUMBERS = {"int", "long", "float", "double"}
PRIMITIVE = NUMBERS | {"null", "boolean", "string", "bytes", "enum"}


def flat_layout(writer: dict) -> list[tuple[str, list[str], list[str] | None]] | None:
    """[(field, branch kinds, enum symbols)] when every field is primitive/enum or a union."""
    layout = []
    for f in writer.get("fields", []):
        branches = f["type"] if isinstance(f["type"], list) else [f["type"]]
        kinds, symbols = [], None
        for branch in branches:
            if isinstance(branch, dict):
                if branch.get("type") == "enum":
                    symbols = list(branch["symbols"])
                branch = branch.get("type")
            if branch not in PRIMITIVE:
                return None
            kinds.append(branch)
        if "enum" in kinds and len(set(kinds) - {"null"}) > 1:
            return None
        layout.append((f["name"], kinds, symbols))
    return layout


class _Cursor:
    def __init__(self, data: np.ndarray, start: np.ndarray, end: np.ndarray):
        self.data, self.pos, self.end = data, start.astype(np.int64), end.astype(np.int64)
        self.truncated = np.zeros(len(start), bool)
        self.mismatch = np.zeros(len(start), bool)

    def _check(self, ix: np.ndarray) -> None:
        self.truncated[ix] |= self.pos[ix] > self.end[ix]
        np.minimum(self.pos, len(self.data) - 16, out=self.pos)

    def varint(self, ix: np.ndarray) -> np.ndarray:
        value = np.zeros(len(ix), np.uint64)
        active = np.ones(len(ix), bool)
        pos = self.pos[ix]
        for k in range(10):
            byte = self.data[pos].astype(np.uint64)
            value |= np.where(active, (byte & np.uint64(0x7F)) << np.uint64(7 * k), 0)
            pos += active
            active &= byte >= 0x80
            if not active.any():
                break
        self.mismatch[ix] |= active
        self.pos[ix] = pos
        self._check(ix)
        return (value >> np.uint64(1)).astype(np.int64) ^ -(value & np.uint64(1)).astype(np.int64)

    def fixed(self, ix: np.ndarray, width: int, dtype: str) -> np.ndarray:
        raw = self.data[self.pos[ix][:, None] + np.arange(width)]
        self.pos[ix] += width
        self._check(ix)
        return raw.view(dtype).reshape(len(ix))

    def boolean(self, ix: np.ndarray) -> np.ndarray:
        raw = self.fixed(ix, 1, "u1")
        self.mismatch[ix] |= raw > 1
        return raw == 1

    def span(self, ix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        length = self.varint(ix)
        bad = (length < 0) | (self.pos[ix] + length > self.end[ix])
        self.mismatch[ix] |= length < 0
        self.truncated[ix] |= bad & (length >= 0)
        length = np.where(bad | self.truncated[ix] | self.mismatch[ix], 0, length)
        start = self.pos[ix].copy()
        self.pos[ix] += length
        return start, length


def _strings(data: np.ndarray, start: np.ndarray, length: np.ndarray, valid: np.ndarray):
    length = np.where(valid, length, 0)
    offsets = np.zeros(len(length) + 1, np.int64)
    np.cumsum(length, out=offsets[1:])
    gather = np.repeat(start - offsets[:-1], length) + np.arange(offsets[-1])
    return pa.LargeStringArray.from_buffers(
        len(length),
        pa.py_buffer(offsets),
        pa.py_buffer(data[gather].tobytes()),
        pa.py_buffer(np.packbits(valid, bitorder="little")),
    )


def read_flat(
    data: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    layout: list[tuple[str, list[str], list[str] | None]],
    wanted: dict[str, pa.DataType],
) -> tuple[dict[str, pa.Array], np.ndarray, np.ndarray]:
    """Columns of `wanted` fields, and the truncated / mismatched masks, for bodies [start, end).

    `data` must be padded with at least 16 zero bytes past the last body.
    """
    n = len(start)
    cursor = _Cursor(data, start, end)
    everyone = np.arange(n)
    columns: dict[str, pa.Array] = {}
    for name, kinds, symbols in layout:
        branch = cursor.varint(everyone) if len(kinds) > 1 else np.zeros(n, np.int64)
        cursor.mismatch |= (branch < 0) | (branch >= len(kinds))
        valid = np.zeros(n, bool)
        numbers = np.zeros(n, np.float64 if wanted.get(name) == pa.float64() else np.int64)
        span_start, span_len = np.zeros(n, np.int64), np.zeros(n, np.int64)
        for b, kind in enumerate(kinds):
            ix = np.flatnonzero(branch == b)
            if kind == "null" or not len(ix):
                continue
            valid[ix] = True
            if kind in ("int", "long", "enum"):
                numbers[ix] = cursor.varint(ix)
            elif kind == "float":
                numbers[ix] = cursor.fixed(ix, 4, "<f4")
            elif kind == "double":
                numbers[ix] = cursor.fixed(ix, 8, "<f8")
            elif kind == "boolean":
                numbers[ix] = cursor.boolean(ix)
            else:
                span_start[ix], span_len[ix] = cursor.span(ix)
        if name not in wanted:
            continue
        valid &= ~(cursor.truncated | cursor.mismatch)
        target = wanted[name]
        if "enum" in kinds:
            ok = valid & (numbers >= 0) & (numbers < len(symbols))
            cursor.mismatch |= valid & ~ok
            codes = pa.array(np.where(ok, numbers, 0), pa.int32(), mask=~ok)
            columns[name] = pa.DictionaryArray.from_arrays(codes, symbols).cast(target)
        elif target in (pa.string(),):
            text = _strings(data, span_start, span_len, valid)
            try:
                text.validate(full=True)
            except pa.ArrowInvalid:
                cursor.mismatch |= _invalid_utf8(text.cast(pa.large_binary()))
                text = _strings(data, span_start, span_len, valid & ~cursor.mismatch)
            columns[name] = text.cast(target)
        elif target == pa.bool_():
            columns[name] = pa.array(numbers.astype(bool), pa.bool_(), mask=~valid)
        else:
            columns[name] = pa.array(numbers, target, mask=~valid)
    cursor.mismatch |= ~cursor.truncated & (cursor.pos != cursor.end)
    return columns, cursor.truncated, cursor.mismatch & ~cursor.truncated


def _invalid_utf8(values: pa.Array) -> np.ndarray:
    bad = np.zeros(len(values), bool)
    for i, value in enumerate(values.to_pylist()):
        if value is not None:
            try:
                value.decode()
            except UnicodeDecodeError:
                bad[i] = True
    return bad
