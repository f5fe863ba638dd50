"""Per-trip summaries of one UTC day, computed in DuckDB so memory stays bounded.

The source (`sources.Source`) is parts of local Parquet files that DuckDB reads itself
(parallel, projection and filter pushdown, buffers inside the memory limit) or of anything
DuckDB scans lazily (a pyarrow dataset, e.g. over S3), one part per type of time column. The
day's window plus `max_gap` before (to see whether a trip at midnight started the day before)
and `lookahead` after (to finish trips crossing midnight) is scanned straight from the source;
gap detection is one ordered window pass over `max_gap`-wide time bins of the trip-identifier
samples, and aggregation an equality join of the samples to the small trips table (by device,
message and time bucket) plus one GROUP BY per (trip, message), so the same code serves 1
device or 1000 and only the summary rows reach Python. DuckDB's memory is capped
(`duckdb_memory_limit`) and larger work spills to a scratch folder.

`trip_windows: legacy` reads only the day (a vehicle lake's day folders whole) and swaps the
trip query (legacy_trips.sql: the script's windows) and which rows are written; reading and
aggregation are shared.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from aggregator_assets.trips import sql
from aggregator_assets.trips.config import TripsConfig
from aggregator_assets.trips.sources import (
    Source,
    dataset_source,
    held_signals,
    scan_window,
)

# Width of the time buckets that let a sample find its trip by an equality join.
JOIN_BUCKET_S = 3600.0

OUTPUT_SCHEMA = pa.schema(
    [
        ("DeviceID", pa.string()),
        ("Message", pa.string()),
        ("Signal", pa.string()),
        ("Aggregation", pa.string()),
        ("Value", pa.float64()),
        ("Count", pa.int64()),
        ("Duration", pa.float64()),
        ("TripStart", pa.int64()),
        ("TripEnd", pa.int64()),
        ("TripID", pa.string()),
        ("Cluster", pa.string()),
    ]
)


@dataclass(frozen=True)
class DaySummary:
    """The day's output rows and what a user wants to know about them."""

    table: pa.Table
    trips: int
    devices: list[str]
    devices_missing_from_config: list[str]
    trips_reaching_lookahead_end: int
    scan_window: tuple[datetime, datetime]


def _plan_tables(config: TripsConfig) -> tuple[pa.Table, pa.Table, dict[str, set[str]]]:
    """(specs, cluster_messages, wanted): the configured outputs per cluster and the messages
    each cluster aggregates, as tables SQL joins to, and the aggregations asked of each
    signal (the only ones computed)."""
    signals = config.aggregations.signals()
    messages = {name: i for i, name in enumerate(config.aggregations.messages())}
    specs, cluster_messages, wanted = [], {}, {}
    for cluster, details in config.aggregations.clusters.items():
        for spec in details.aggregations:
            cluster_messages[(cluster, spec.message)] = messages[spec.message]
            for signal in spec.signal:
                wanted.setdefault(signal, set()).add(spec.aggregation)
                specs.append(
                    {
                        "cluster": cluster,
                        "message": spec.message,
                        "signal": signal,
                        "aggregation": spec.aggregation,
                        "spec_order": len(specs),
                        "signal_idx": signals.index(signal),
                        "message_no": messages[spec.message],
                    }
                )
    spec_schema = pa.schema(
        [(k, pa.string()) for k in ("cluster", "message", "signal", "aggregation")]
        + [(k, pa.int32()) for k in ("spec_order", "signal_idx", "message_no")]
    )
    message_schema = pa.schema(
        [("cluster", pa.string()), ("message", pa.string()), ("message_no", pa.int32())]
    )
    rows = [{"cluster": c, "message": m, "message_no": n} for (c, m), n in cluster_messages.items()]
    return (
        pa.Table.from_pylist(specs, schema=spec_schema),
        pa.Table.from_pylist(rows, schema=message_schema),
        wanted,
    )


def assign_clusters(devices: list[str], config: TripsConfig) -> tuple[pa.Table, list[str]]:
    """(device_id -> cluster, device_no table; devices with no cluster). Unlisted devices get the
    `default_cluster` when one is configured, otherwise they are skipped and reported."""
    mapping = config.aggregations.device_cluster
    assigned, missing = {}, []
    for device in devices:
        cluster = mapping.get(device, config.default_cluster)
        if device not in mapping:
            missing.append(device)
        if cluster is not None:
            assigned[device] = cluster
    table = pa.table(
        {
            "device_id": pa.array(list(assigned), pa.string()),
            "cluster": pa.array(list(assigned.values()), pa.string()),
            "device_no": pa.array(range(len(assigned)), pa.int32()),
        }
    )
    return table, missing


def connect(config: TripsConfig, workdir: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB whose memory is capped; larger sorts and joins spill to `workdir`."""
    settings = {
        "memory_limit": config.duckdb_memory_limit,
        "temp_directory": workdir,
        "preserve_insertion_order": False,
    }
    if config.duckdb_threads:
        settings["threads"] = config.duckdb_threads
    con = duckdb.connect(":memory:", config=settings)
    if int(duckdb.__version__.split(".")[0]) < 2:
        # DuckDB 1.x cannot push a join's filter into a pyarrow scan (the S3 sources):
        # "Pushdown Filter Type BLOOM_FILTER is not currently supported in PyArrow Scans".
        con.execute("SET disabled_optimizers = 'join_filter_pushdown'")
    return con


def summarize_day(
    source: Source | ds.Dataset, day_start: datetime, config: TripsConfig
) -> DaySummary:
    """Summarise the trips that start on the UTC day beginning at `day_start` (in legacy mode:
    the trips the script finds in that day's data). A plain dataset needs columns device_id,
    message, t and the signals."""
    if isinstance(source, ds.Dataset):
        source = dataset_source(source)
    with tempfile.TemporaryDirectory(prefix="trips-") as workdir:
        con = connect(config, workdir)
        try:
            return _summarize(con, source, day_start, config)
        finally:
            con.close()


def _summarize(
    con: duckdb.DuckDBPyConnection, source: Source, day_start: datetime, config: TripsConfig
) -> DaySummary:
    aggs = config.aggregations
    signals = aggs.signals()
    lo, hi = scan_window(day_start, config)
    # The legacy mode reads a day's folders whole, as the script does, whatever their t says.
    whole_folders = config.legacy and source.folders is not None
    if whole_folders:
        scan = {"scan_start": -math.inf, "scan_end": math.inf}
        day = {"day_start": -math.inf, "day_end": math.inf}
    else:
        scan = {"scan_start": lo.timestamp(), "scan_end": hi.timestamp()}
        day = {
            "day_start": day_start.timestamp(),
            "day_end": (day_start + timedelta(days=1)).timestamp(),
        }
    rows, bound = bind_source(con, source, signals)
    values = {**scan, **day, "messages": aggs.messages(), **bound}

    def run(name: str, extra: dict | None = None, **fragments: str) -> duckdb.DuckDBPyRelation:
        text = sql.render(name, rows, **fragments)
        return con.sql(text, params=sql.parameters(text, {**values, **(extra or {})}))

    if whole_folders:  # the listing knows the devices and what their folders hold
        devices, held = list(source.devices), source.folders
    else:
        pairs = run("devices").fetchall()
        devices = sorted({device for device, _ in pairs})
        held = _held(pairs, signals, source)
    device_table, missing = assign_clusters(devices, config)
    specs, cluster_messages, wanted = _plan_tables(config)
    con.register("devices", device_table)
    con.register("specs", specs)
    con.register("cluster_messages", cluster_messages)
    con.register("held", held)
    con.execute(
        "CREATE TABLE trips (cluster VARCHAR, device_id VARCHAR, trip_start DOUBLE, "
        "trip_end DOUBLE, start_s BIGINT, end_s BIGINT)"
    )
    for cluster, details in aggs.clusters.items():
        ident = details.trip_identifier
        cut = {
            "cluster": cluster,
            "trip_message": ident.message,
            "max_gap_s": config.max_gap_delta.total_seconds(),
        }
        if config.legacy:  # the script looks only at the identifier message's t
            run("legacy_trips", cut, bins=sql.trip_bins("true"))
        else:
            run("trips", cut, bins=sql.trip_bins(sql.any_present(ident.signal)))
    limit = math.inf if config.legacy else (hi - config.max_gap_delta).timestamp()
    n_trips, near_end, first_start, last_end = con.execute(
        sql.template("trip_counts"), {"limit": limit}
    ).fetchall()[0]
    # Only samples inside some trip are aggregated: narrow the scan to the trips' span.
    no_trips = first_start is None
    trip_span = {
        "scan_start": 0.0 if no_trips else first_start,
        "scan_end": 0.0 if no_trips else math.nextafter(last_end, math.inf),
        "bucket_s": JOIN_BUCKET_S,
        "legacy": config.legacy,
    }
    table = run(
        "summaries",
        trip_span,
        signal_stats=sql.signal_stats(signals, wanted),
        value=sql.stat_value(signals, wanted),
        count=sql.stat_count(signals),
    ).to_arrow_table()
    return DaySummary(
        table=table.cast(OUTPUT_SCHEMA),
        trips=n_trips,
        devices=devices,
        devices_missing_from_config=missing,
        trips_reaching_lookahead_end=near_end,
        scan_window=(lo, hi),
    )


def bind_source(
    con: duckdb.DuckDBPyConnection, source: Source, signals: list[str]
) -> tuple[str, dict]:
    """Make `source` readable by the queries: (its rendered `source_rows`, the parameters
    naming its files). Datasets and file labels are registered on `con`."""
    params, parts = {}, []
    for i, part in enumerate(source.parts):
        if part.dataset is not None:
            con.register(f"part_{i}", part.dataset)
            reader = "source_registered"
        else:
            params[f"files_{i}"] = list(part.paths)
            reader = "source_files"
            if part.labels is not None:
                index = pa.array(range(len(part.paths)), pa.uint64())
                con.register(f"labels_{i}", part.labels.append_column("file_index", index))
                reader = "source_labelled_files"
        if part.message is not None:
            params[f"message_{i}"] = part.message
        one_message = part.message is not None
        parts.append(
            sql.PartSql(reader, part.time_column, part.time_type, part.columns, one_message)
        )
    return sql.source_rows(parts, signals), params


def _held(pairs: list[tuple[str, str]], signals: list[str], source: Source) -> pa.Table:
    """(device_id, message, signal) for the messages each device sent during the day and the
    signals the source has: what a day folder would hold, for sources without folders."""
    columns = set().union(*(part.columns for part in source.parts))
    return held_signals((d, m, s) for d, m in pairs for s in signals if s in columns)
