"""Local lakes are read by DuckDB itself; results equal those over a pyarrow dataset."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from aggregator_assets.lake import Lake
from aggregator_assets.trips.sources import external_lake_dataset, external_source
from aggregator_assets.trips.summarize import summarize_day
from aggregator_assets_tests.trips.helpers import (
    DAY,
    MESSAGE_SIGNALS,
    SIGNALS,
    trips_config,
    vehicle_samples,
)


def test_signal_missing_from_every_file_reads_as_null(tmp_path):
    """A configured signal that no file of the day has gives NULL values (Count 0), exactly
    as over a dataset whose fixed schema fills it with nulls."""
    samples = vehicle_samples()
    lake = Lake(str(tmp_path))
    day = (samples["t"] // 86400).astype(int)
    for (device, message, d), part in samples.groupby(["device_id", "message", day]):
        when = datetime.fromtimestamp(d * 86400, tz=timezone.utc)
        columns = ["t", *(s for s in MESSAGE_SIGNALS[message] if s != "AccelerationZ")]
        table = pa.Table.from_pandas(part[columns], preserve_index=False)
        lake.write_table(f"ext/{device}/{message}/{when:%Y/%m/%d}/part.parquet", table)
    config = trips_config()
    source = external_source(lake, "ext", DAY, config)
    # Files DuckDB reads itself, one part per message (float t throughout).
    assert {p.message for p in source.parts} == set(MESSAGE_SIGNALS)
    assert all(p.dataset is None for p in source.parts)
    assert source.files == sum(len(p.paths) for p in source.parts) > 0

    frame = samples[["device_id", "message", "t", *SIGNALS]].assign(AccelerationZ=float("nan"))
    expected = summarize_day(ds.dataset(pa.Table.from_pandas(frame)), DAY, config).table
    actual = summarize_day(source, DAY, config).table
    assert actual.schema == expected.schema
    pd.testing.assert_frame_equal(
        actual.to_pandas(), expected.to_pandas(), check_exact=False, rtol=1e-9
    )
    z = actual.filter(pc.equal(actual["Signal"], "AccelerationZ")).to_pandas()
    assert len(z) > 0 and (z.Count == 0).all()


@pytest.mark.parametrize("message", ["../../../outside", "/outside", "a/b", "a\\b", "..", "."])
def test_listing_refuses_paths_that_leave_the_lake(tmp_path, message):
    """Defense in depth behind the config check: a message name that would climb out of the
    vehicle lake's folder is refused before anything outside it is listed or read."""
    outside = tmp_path / "outside" / "2026" / "11" / "02"
    outside.mkdir(parents=True)
    pq.write_table(pa.table({"t": [DAY.timestamp()], "Speed": [1.0]}), outside / "x.parquet")
    lake = Lake(str(tmp_path / "lake"))
    (tmp_path / "lake" / "ext" / "dev-a").mkdir(parents=True)
    with pytest.raises(ValueError, match="outside the vehicle lake folder 'ext'"):
        external_lake_dataset(lake, "ext", [DAY.date()], [message], ["Speed"])
