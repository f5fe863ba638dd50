"""Where a day's samples come from: raw hour files of the Kafka topic, or the external lake.

A `Source` is a list of parts whose time column has one type each: vehicle lakes hold `t` as
timestamps of any unit, with or without a zone, or as epoch seconds, and files of one message
may disagree (pandas wrote some, a logger others). The footers say which; DuckDB turns each
part's time into epoch seconds (sql.py) and stacks the parts. A file whose `t` cannot be read
fails the run with its path named.

On a local lake the parts are Parquet files that DuckDB reads itself: in parallel, with
projection and filter pushdown, and with its buffers inside its memory limit (scanning a pyarrow
dataset costs more in conversion than the read, and pyarrow's read-ahead sits outside the
limit). On S3 (DuckDB's httpfs is not available here) each part is a pyarrow dataset with
columns device_id, message, the time column and the configured signals (float64), which DuckDB
scans lazily. Only topic names and configured message names build paths, and a path that would
leave its lake prefix is refused; device ids are read from the external lake's folder names and
only ever become column values, never paths we write to or SQL text.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from aggregator_assets.lake import Lake, hour_path
from aggregator_assets.partitions import HOUR_KEY_FORMAT, hours_between
from aggregator_assets.trips.config import TripsConfig

HOUR = timedelta(hours=1)
ONE_DAY = timedelta(days=1)
_LISTING_THREADS = 16


class MissingHoursError(RuntimeError):
    """Raw hours a day needs have not been materialized: summarising now would drop trips."""

    def __init__(self, missing: list[datetime]):
        self.missing = missing
        keys = ", ".join(h.strftime(HOUR_KEY_FORMAT) for h in missing)
        super().__init__(
            f"{len(missing)} raw hour partition(s) needed for this day are not materialized: "
            f"{keys}. Materialize them (the trip asset reads the day and, unless its trip windows "
            "are legacy, the gap before it and the lookahead after it), then re-run."
        )


class UnreadableTimeError(ValueError):
    """Files whose time column is missing or of a type that is not a time."""

    def __init__(self, problems: list[str]):
        shown = "\n  ".join(problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        super().__init__(
            f"cannot read the sample time of {len(problems)} file(s); trips read t as a "
            "timestamp (any unit; without a zone it is UTC) or as epoch seconds (float or "
            f"int):\n  {shown}{more}"
        )


_LABEL = pa.dictionary(pa.int32(), pa.string())
# Device and message arrive dictionary-encoded: DuckDB converts them far faster than strings.
_RAW_FORMAT = ds.ParquetFileFormat(
    read_options=ds.ParquetReadOptions(dictionary_columns=["device_id", "message"])
)


def readable_time_type(time_type: pa.DataType) -> bool:
    """Timestamps of any unit and zone, or numbers of epoch seconds."""
    return (
        pa.types.is_timestamp(time_type)
        or pa.types.is_integer(time_type)
        or pa.types.is_floating(time_type)
    )


@dataclass(frozen=True)
class Part:
    """Samples whose time column has one type. Either local Parquet `paths` for DuckDB's own
    reader, with `labels` holding device_id and message of each path (row i describes paths[i])
    for lakes that keep them in folder names, or a `dataset` DuckDB scans through Arrow. A
    part of one `message` (the external lake's) lets a query that wants another message skip
    it without reading a file."""

    time_type: pa.DataType
    columns: frozenset[str]
    paths: tuple[str, ...] = ()
    labels: pa.Table | None = None
    dataset: ds.Dataset | None = None
    time_column: str = "t"
    message: str | None = None


@dataclass(frozen=True)
class Source:
    """A day's samples. `folders` is set when the parts are exactly one day's folders of the
    external lake: the (device_id, message, signal) each folder holds, and `devices` those with
    a file in it. The legacy trip mode then reads those folders whole, whatever their `t` says,
    and gives rows only for them, as the script does."""

    parts: tuple[Part, ...]
    files: int = 0
    folders: pa.Table | None = None
    devices: tuple[str, ...] = ()


def dataset_source(dataset: ds.Dataset, time_column: str = "t") -> Source:
    """Any dataset with columns device_id, message, the time column and the signals."""
    schema = dataset.schema
    if time_column not in schema.names or not readable_time_type(schema.field(time_column).type):
        raise UnreadableTimeError([f"<dataset>: {_time_problem(schema, time_column)}"])
    part = Part(schema.field(time_column).type, frozenset(schema.names), dataset=dataset)
    return Source((part,))


def scan_window(day_start: datetime, config: TripsConfig) -> tuple[datetime, datetime]:
    """Every sample the day's trips can depend on: [day - max_gap, day + 1d + lookahead) to see
    trips crossing either midnight whole, or just the day in legacy mode (the script reads one
    day folder and cuts trips at midnight)."""
    if config.legacy:
        return day_start, day_start + ONE_DAY
    return day_start - config.max_gap_delta, day_start + ONE_DAY + config.lookahead_delta


def _sample_schema(signals: list[str], time_column: str, time_type: pa.DataType) -> pa.Schema:
    return pa.schema(
        [("device_id", _LABEL), ("message", _LABEL), (time_column, time_type)]
        + [(name, pa.float64()) for name in signals]
    )


def _time_problem(schema: pa.Schema, time_column: str) -> str:
    if time_column not in schema.names:
        return f"no column {time_column!r}"
    return f"column {time_column!r} is {schema.field(time_column).type}"


def _schemas(lake: Lake, paths: list[str]) -> list[pa.Schema]:
    """The footers' schemas, read in parallel (one or two small reads per file on S3)."""
    with ThreadPoolExecutor(_LISTING_THREADS) as pool:
        return list(pool.map(lambda p: pq.read_schema(lake.path(p), filesystem=lake.fs), paths))


def _by_time_type(
    lake: Lake,
    files: list[str],
    schemas: list[pa.Schema],
    time_column: str,
    keys: Sequence[object] | None = None,
) -> dict[tuple, list[int]]:
    """File indexes grouped by (type of their time column, their key from `keys`, if given);
    unreadable files fail, named."""
    groups: dict[tuple, list[int]] = {}
    problems = []
    for i, (path, schema) in enumerate(zip(files, schemas, strict=True)):
        field = schema.field(time_column) if time_column in schema.names else None
        if field is None or not readable_time_type(field.type):
            problems.append(f"{lake.uri(path)}: {_time_problem(schema, time_column)}")
        else:
            groups.setdefault((field.type, keys[i] if keys else None), []).append(i)
    if problems:
        raise UnreadableTimeError(problems)
    return groups


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
    time_column: str = "t",
) -> RawHours:
    """The raw hour files covering `window`. An hour that has ended but has no file fails the
    run (MissingHoursError); hours still running or in the future, and hours before the
    pipeline's first partition, are legitimately absent and reported instead. `time_column` is
    `t` (epoch seconds) or `event_time` (see `sample_time_column`)."""
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
    schemas = _schemas(lake, files)
    parts = []
    for (time_type, _), chosen in _by_time_type(lake, files, schemas, time_column).items():
        paths = [lake.path(files[i]) for i in chosen]
        columns = frozenset(name for i in chosen for name in schemas[i].names)
        if not lake.is_s3:
            parts.append(Part(time_type, columns, tuple(paths), time_column=time_column))
            continue
        schema = _sample_schema(signals, time_column, time_type)
        dataset = ds.dataset(paths, filesystem=lake.fs, format=_RAW_FORMAT, schema=schema)
        columns = frozenset(schema.names)
        parts.append(Part(time_type, columns, dataset=dataset, time_column=time_column))
    return RawHours(Source(tuple(parts), len(files)), files, future)


def _subfolders(lake: Lake, relative: str) -> list[str]:
    selector = pafs.FileSelector(lake.path(relative), allow_not_found=True)
    return sorted(
        posixpath.basename(info.path)
        for info in lake.fs.get_file_info(selector)
        if info.type == pafs.FileType.Directory and not info.base_name.startswith(("_", "."))
    )


def lake_folder(prefix: str, device: str, message: str, day: date) -> str:
    """`<prefix>/<device>/<message>/YYYY/MM/DD`, refusing names that would leave `prefix`
    (config validation refuses such message names already; this is the second line)."""
    for name in (device, message):
        if name in {"", ".", ".."} or "/" in name or "\\" in name:
            raise ValueError(f"{name!r} would lead outside the vehicle lake folder {prefix!r}")
    folder = posixpath.join(prefix, device, message, f"{day:%Y/%m/%d}")
    if posixpath.isabs(folder) or posixpath.normpath(folder).split("/")[0] == "..":
        raise ValueError(f"{folder!r} is outside the vehicle lake folder {prefix!r}")
    return folder


def external_source(lake: Lake, prefix: str, day_start: datetime, config: TripsConfig) -> Source:
    """The external lake's files a day needs: the folders of the UTC days overlapping the scan
    window, or in legacy mode the day's own folders, read whole (see `Source.folders`)."""
    aggs = config.aggregations
    if config.legacy:
        days = [day_start.date()]
    else:
        days = sorted({h.date() for h in hours_between(*scan_window(day_start, config))})
    return external_lake_dataset(
        lake, prefix, days, aggs.messages(), aggs.signals(), whole_days=config.legacy
    )


def external_lake_dataset(
    lake: Lake,
    prefix: str,
    days: Sequence[date],
    messages: list[str],
    signals: list[str],
    whole_days: bool = False,
) -> Source:
    """The files `<prefix>/<device_id>/<message>/YYYY/MM/DD/*.parquet` of the configured
    messages and `days`; device_id and message come from the path. With `whole_days` the
    source records which signals each folder holds (`Source.folders`)."""
    devices = _subfolders(lake, prefix)
    folders = [
        (device, message, lake_folder(prefix, device, message, day))
        for device in devices
        for message in messages
        for day in days
    ]
    with ThreadPoolExecutor(_LISTING_THREADS) as pool:
        listed = list(pool.map(lambda f: lake.list_files(f[2], suffix=".parquet"), folders))
    files = [f for chunk in listed for f in chunk]
    labels = [(d, m) for (d, m, _), chunk in zip(folders, listed, strict=True) for _ in chunk]
    schemas = _schemas(lake, files)
    parts = []
    by_message = [m for _, m in labels]
    for (time_type, message), chosen in _by_time_type(
        lake, files, schemas, "t", by_message
    ).items():
        columns = frozenset(name for i in chosen for name in schemas[i].names)
        if not lake.is_s3:
            table = pa.table(
                {
                    "device_id": [labels[i][0] for i in chosen],
                    "message": [labels[i][1] for i in chosen],
                }
            )
            paths = tuple(lake.path(files[i]) for i in chosen)
            parts.append(Part(time_type, columns, paths, labels=table, message=message))
            continue
        partitioning = ds.DirectoryPartitioning(
            pa.schema([("device_id", _LABEL), ("message", _LABEL)]),
            dictionaries={"device_id": pa.array(devices), "message": pa.array(messages)},
            segment_encoding="none",
        )
        schema = _sample_schema(signals, "t", time_type)
        dataset = ds.dataset(
            [lake.path(files[i]) for i in chosen],
            filesystem=lake.fs,
            format="parquet",
            schema=schema,
            partitioning=partitioning,
            partition_base_dir=lake.path(prefix),
        )
        parts.append(Part(time_type, frozenset(schema.names), dataset=dataset, message=message))
    held = None
    if whole_days:
        held = held_signals(
            (device, message, signal)
            for (device, message), schema in zip(labels, schemas, strict=True)
            for signal in signals
            if signal in schema.names
        )
    return Source(tuple(parts), len(files), held, tuple(sorted({d for d, _ in labels})))


def held_signals(rows: Iterable[tuple[str, str, str]]) -> pa.Table:
    """The (device_id, message, signal) table of `Source.folders`, without repeats."""
    held = list(dict.fromkeys(rows))
    names = ("device_id", "message", "signal")
    return pa.table({n: pa.array([h[i] for h in held], pa.string()) for i, n in enumerate(names)})
