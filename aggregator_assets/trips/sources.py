"""Where a day's samples come from: raw hour files of the Kafka topic, or the external lake.

On a local lake both return `ParquetFiles`, which DuckDB reads itself: in parallel, with
projection and filter pushdown, and with its buffers inside its memory limit (scanning a pyarrow
dataset costs more in conversion than the read, and pyarrow's read-ahead sits outside the
limit). On S3 (DuckDB's httpfs is not available here) they return a pyarrow dataset with columns
device_id, message, t and the configured signals (float64), which DuckDB scans lazily. Only
topic names and configured message names build paths; device ids are read from the external
lake's folder names and only ever become column values, never paths we write to or SQL text.
"""

from __future__ import annotations

import posixpath
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from aggregator_assets.lake import Lake, hour_path
from aggregator_assets.partitions import HOUR_KEY_FORMAT, hours_between

HOUR = timedelta(hours=1)
_LISTING_THREADS = 16


class MissingHoursError(RuntimeError):
    """Raw hours a day needs have not been materialized: summarising now would drop trips."""

    def __init__(self, missing: list[datetime]):
        self.missing = missing
        keys = ", ".join(h.strftime(HOUR_KEY_FORMAT) for h in missing)
        super().__init__(
            f"{len(missing)} raw hour partition(s) needed for this day are not materialized: "
            f"{keys}. Materialize them (the trip asset reads the day, the gap before it and the "
            "lookahead after it), then re-run."
        )


_LABEL = pa.dictionary(pa.int32(), pa.string())
# Device and message arrive dictionary-encoded: DuckDB converts them far faster than strings.
_RAW_FORMAT = ds.ParquetFileFormat(
    read_options=ds.ParquetReadOptions(dictionary_columns=["device_id", "message"])
)


def sample_schema(signals: list[str]) -> pa.Schema:
    return pa.schema(
        [("device_id", _LABEL), ("message", _LABEL), ("t", pa.float64())]
        + [(name, pa.float64()) for name in signals]
    )


@dataclass(frozen=True)
class ParquetFiles:
    """Local Parquet files for DuckDB's own reader. `labels`, when given, holds device_id and
    message for each file (row i describes paths[i]), for lakes that keep them in folder names
    rather than in columns."""

    paths: list[str]
    labels: pa.Table | None = None


Source = ds.Dataset | ParquetFiles


@dataclass(frozen=True)
class RawHours:
    source: Source
    files: list[str]
    not_yet_available: list[datetime]


def raw_hours_dataset(
    lake: Lake,
    topic: str,
    window: tuple[datetime, datetime],
    signals: list[str],
    now: datetime,
    partitions_start: datetime,
) -> RawHours:
    """The raw hour files covering `window`. An hour that has ended but has no file fails the
    run (MissingHoursError); hours still running or in the future, and hours before the
    pipeline's first partition, are legitimately absent and reported instead."""
    files, missing, future = [], [], []
    for hour in hours_between(*window):
        relative = f"{hour_path('raw', topic, hour=hour)}/part-0.parquet"
        if lake.exists(relative):
            files.append(relative)
        elif hour + HOUR > now:
            future.append(hour)
        elif hour >= partitions_start:
            missing.append(hour)
    if missing:
        raise MissingHoursError(missing)
    return RawHours(_raw_source(lake, files, signals), files, future)


def _raw_source(lake: Lake, files: list[str], signals: list[str]) -> Source:
    schema = sample_schema(signals)
    if not files:
        return ds.dataset(schema.empty_table())
    paths = [lake.path(f) for f in files]
    if not lake.is_s3:
        return ParquetFiles(paths)
    return ds.dataset(paths, filesystem=lake.fs, format=_RAW_FORMAT, schema=schema)


def _subfolders(lake: Lake, relative: str) -> list[str]:
    selector = pafs.FileSelector(lake.path(relative), allow_not_found=True)
    return sorted(
        posixpath.basename(info.path)
        for info in lake.fs.get_file_info(selector)
        if info.type == pafs.FileType.Directory and not info.base_name.startswith(("_", "."))
    )


def external_lake_dataset(
    lake: Lake,
    prefix: str,
    window: tuple[datetime, datetime],
    messages: list[str],
    signals: list[str],
) -> tuple[Source, int]:
    """The files `<prefix>/<device_id>/<message>/YYYY/MM/DD/*.parquet` of the configured
    messages and the UTC days overlapping `window`; device_id and message come from the path.
    Returns (source, number of files)."""
    days = sorted({h.date() for h in hours_between(*window)})
    devices = _subfolders(lake, prefix)
    folders = [
        (device, message, posixpath.join(prefix, device, message, f"{day:%Y/%m/%d}"))
        for device in devices
        for message in messages
        for day in days
    ]
    with ThreadPoolExecutor(_LISTING_THREADS) as pool:
        listed = list(pool.map(lambda f: lake.list_files(f[2], suffix=".parquet"), folders))
    files = [f for chunk in listed for f in chunk]
    schema = sample_schema(signals)
    if not files:
        return ds.dataset(schema.empty_table()), 0
    if not lake.is_s3:
        labels = [(d, m) for (d, m, _), chunk in zip(folders, listed, strict=True) for _ in chunk]
        table = pa.table({"device_id": [d for d, _ in labels], "message": [m for _, m in labels]})
        return ParquetFiles([lake.path(f) for f in files], table), len(files)
    partitioning = ds.DirectoryPartitioning(
        pa.schema([("device_id", _LABEL), ("message", _LABEL)]),
        dictionaries={"device_id": pa.array(devices), "message": pa.array(messages)},
        segment_encoding="none",
    )
    dataset = ds.dataset(
        [lake.path(f) for f in files],
        filesystem=lake.fs,
        format="parquet",
        schema=schema,
        partitioning=partitioning,
        partition_base_dir=lake.path(prefix),
    )
    return dataset, len(files)
