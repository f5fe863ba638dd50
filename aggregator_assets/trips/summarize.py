"""Per-trip summaries of one UTC day, computed in DuckDB so memory stays bounded.

The source is anything DuckDB scans lazily (a pyarrow dataset over raw hour files or over the
external lake) with columns device_id, message, t and the signals. The day's window plus
`max_gap` before (to see whether a trip at midnight started the day before) and `lookahead`
after (to finish trips crossing midnight) is scanned straight from the source (DuckDB pushes
the time and message filters into the pyarrow scan); gap detection is a window function over
the trip-identifier samples and aggregation a join to the small trips table plus a GROUP BY,
so the same code serves 1 device or 1000 and only the summary rows reach Python. DuckDB's
memory is capped (`duckdb_memory_limit`) and larger work spills to a scratch folder.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa

from aggregator_assets.trips import sql
from aggregator_assets.trips.config import TripsConfig

OUTPUT_SCHEMA = pa.schema(
    [
        ("DeviceID", pa.string()),
        ("Message", pa.string()),
        ("Signal", pa.string()),
        ("Aggregation", pa.string()),
        ("Value", pa.float64()),
        ("Count", pa.int64()),
        ("Duration", pa.float64()),
        ("TripStart", pa.float64()),
        ("TripEnd", pa.float64()),
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


def scan_window(day_start: datetime, config: TripsConfig) -> tuple[datetime, datetime]:
    """[day - max_gap, day + 1d + lookahead): every sample the day's trips can depend on."""
    return (
        day_start - config.max_gap_delta,
        day_start + timedelta(days=1) + config.lookahead_delta,
    )


def _plan_tables(config: TripsConfig) -> tuple[pa.Table, pa.Table]:
    """(specs, message_signals): the configured outputs per cluster, as tables SQL joins to."""
    signal_idx = {name: i for i, name in enumerate(config.aggregations.signals())}
    specs, pairs = [], {}
    for cluster, details in config.aggregations.clusters.items():
        for spec in details.aggregations:
            for signal in spec.signal:
                specs.append(
                    {
                        "cluster": cluster,
                        "message": spec.message,
                        "signal": signal,
                        "aggregation": spec.aggregation,
                        "spec_order": len(specs),
                    }
                )
                pairs[(cluster, spec.message, signal)] = {
                    "cluster": cluster,
                    "message": spec.message,
                    "signal": signal,
                    "signal_idx": signal_idx[signal],
                }
    spec_schema = pa.schema(
        [(k, pa.string()) for k in ("cluster", "message", "signal", "aggregation")]
        + [("spec_order", pa.int32())]
    )
    pair_schema = pa.schema(
        [(k, pa.string()) for k in ("cluster", "message", "signal")] + [("signal_idx", pa.int32())]
    )
    return (
        pa.Table.from_pylist(specs, schema=spec_schema),
        pa.Table.from_pylist(list(pairs.values()), schema=pair_schema),
    )


def assign_clusters(devices: list[str], config: TripsConfig) -> tuple[pa.Table, list[str]]:
    """(device_id -> cluster table, devices with no cluster). Unlisted devices get the
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
        }
    )
    return table, missing


def connect(config: TripsConfig, workdir: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB whose memory is capped; larger sorts and joins spill to `workdir`."""
    settings = {"memory_limit": config.duckdb_memory_limit, "temp_directory": workdir}
    if config.duckdb_threads:
        settings["threads"] = config.duckdb_threads
    return duckdb.connect(":memory:", config=settings)


def summarize_day(source: object, day_start: datetime, config: TripsConfig) -> DaySummary:
    """Summarise the trips that start on the UTC day beginning at `day_start`."""
    with tempfile.TemporaryDirectory(prefix="trips-") as workdir:
        con = connect(config, workdir)
        try:
            return _summarize(con, source, day_start, config)
        finally:
            con.close()


def _summarize(
    con: duckdb.DuckDBPyConnection, source: object, day_start: datetime, config: TripsConfig
) -> DaySummary:
    aggs = config.aggregations
    signals = aggs.signals()
    lo, hi = scan_window(day_start, config)
    day = {
        "day_start": day_start.timestamp(),
        "day_end": (day_start + timedelta(days=1)).timestamp(),
    }

    scan = {"scan_start": lo.timestamp(), "scan_end": hi.timestamp(), "messages": aggs.messages()}
    con.register("source", source)
    devices = [
        row[0] for row in con.sql(sql.render("devices", signals), params={**scan, **day}).fetchall()
    ]
    device_table, missing = assign_clusters(devices, config)
    specs, message_signals = _plan_tables(config)
    con.register("devices", device_table)
    con.register("specs", specs)
    con.register("message_signals", message_signals)
    con.execute(
        "CREATE TABLE trips "
        "(cluster VARCHAR, device_id VARCHAR, trip_start DOUBLE, trip_end DOUBLE)"
    )
    for cluster, details in aggs.clusters.items():
        ident = details.trip_identifier
        con.execute(
            sql.render("trips", signals, identifier_present=sql.any_present(ident.signal)),
            {
                **scan,
                **day,
                "cluster": cluster,
                "trip_message": ident.message,
                "max_gap_s": config.max_gap_delta.total_seconds(),
            },
        )
    n_trips, near_end = con.sql(
        "SELECT count(*), count(*) FILTER (WHERE trip_end > $limit) FROM trips",
        params={"limit": (hi - config.max_gap_delta).timestamp()},
    ).fetchall()[0]
    table = con.sql(
        sql.render("summaries", signals, signal_value=sql.signal_value(signals)), params=scan
    ).to_arrow_table()
    return DaySummary(
        table=table.cast(OUTPUT_SCHEMA),
        trips=n_trips,
        devices=devices,
        devices_missing_from_config=missing,
        trips_reaching_lookahead_end=near_end,
        scan_window=(lo, hi),
    )
