"""The legacy script's output file, written during a switch so existing tables keep working.

The script writes `<data lake>/aggregations/tripsummary/YYYY/MM/DD/YYYYMMDD.parquet` under the
lake it reads, with only the aggregations it knows (`avg`, `max`, `min`, `sum`); Athena/Glue
tables of vehicle teams point at that folder. With `trips.legacy_output` the legacy-mode asset
writes the same file, at the same place, with the same rows; extra aggregations stay in our own
table.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from aggregator_assets.trips.config import LEGACY_AGGREGATIONS

LEGACY_TABLE_FOLDER = "aggregations/tripsummary"


def legacy_output_path(day: datetime) -> str:
    """`aggregations/tripsummary/YYYY/MM/DD/YYYYMMDD.parquet`, relative to the vehicle lake."""
    return f"{LEGACY_TABLE_FOLDER}/{day:%Y/%m/%d}/{day:%Y%m%d}.parquet"


def legacy_rows(table: pa.Table) -> pa.Table:
    """The rows the script writes: those of its four aggregations."""
    return table.filter(pc.is_in(table["Aggregation"], pa.array(LEGACY_AGGREGATIONS)))
