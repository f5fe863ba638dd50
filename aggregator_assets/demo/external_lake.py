"""A vehicle data lake as vehicle teams keep it, written from the demo's raw vehicle hours.

`trip_summaries_external` reads `<root>/<device_id>/<message>/YYYY/MM/DD/*.parquet` (column `t`
plus one column per signal): the layout the legacy trip script reads, with `t` a timestamp as
pandas writes it. The demo copies its raw
vehicle rows into that layout so the external trip asset has data to show next to the one built
from raw hours, and the two can be compared in the UI.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from aggregator_assets.lake import Lake, hour_path
from aggregator_assets.trips.config import TripsConfig

PART_FILE = "part-0.parquet"


def _segment(value: str) -> str:
    """A device id or message name as one folder name; anything that could leave it is refused."""
    if not value or value in {".", ".."} or "/" in value or "\\" in value:
        raise ValueError(f"{value!r} cannot be a folder name of the vehicle lake")
    return value


def write_external_lake(
    lake: Lake, topic: str, hours: list[datetime], trips: TripsConfig, prefix: str
) -> int:
    """Write the valid raw rows of `hours` under `<prefix>/<device>/<message>/YYYY/MM/DD/`, one
    file per device, message and day; returns the number of files written."""
    signals = trips.aggregations.signals()
    tables = []
    for hour in hours:
        relative = f"{hour_path('raw', topic, hour=hour)}/{PART_FILE}"
        if lake.exists(relative):
            tables.append(
                lake.read_table(relative, columns=["device_id", "message", "t", *signals])
            )
    if not tables:
        return 0
    rows = pa.concat_tables(tables)
    # `t` as pandas writes it (timestamp[us], no zone: UTC), the vehicle teams' habit.
    micros = pc.cast(pc.multiply(rows["t"], 1_000_000), pa.int64(), safe=False)
    t = micros.cast(pa.timestamp("us"))
    rows = rows.set_column(rows.schema.get_field_index("t"), "t", t)
    rows = rows.append_column("day", pc.strftime(t, "%Y/%m/%d"))
    written = 0
    for key in (
        rows.select(["device_id", "message", "day"])
        .group_by(["device_id", "message", "day"])
        .aggregate([])
        .to_pylist()
    ):
        mask = pc.and_(
            pc.and_(
                pc.equal(rows["device_id"], key["device_id"]),
                pc.equal(rows["message"], key["message"]),
            ),
            pc.equal(rows["day"], key["day"]),
        )
        part = rows.filter(mask).drop_columns(["device_id", "message", "day"]).sort_by("t")
        folder = f"{prefix}/{_segment(key['device_id'])}/{_segment(key['message'])}/{key['day']}"
        lake.write_table(f"{folder}/{PART_FILE}", part)
        written += 1
    return written
