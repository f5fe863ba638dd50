"""NaN readings are missing values in the SQL that reads trip sources, on every DuckDB version.

DuckDB 2.0 folds `isnan(x)` to false when Parquet min/max statistics (which never count NaN)
exclude it, so a NaN test that passes on DuckDB 1.5 silently counts NaN as a value on 2.x. These
tests read real Parquet files written by pyarrow, with NaN in several row groups and files, through
each source kind the trip queries use (DuckDB's own reader with and without folder labels, and a
registered pyarrow dataset as on S3)."""

from __future__ import annotations

import math

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from aggregator_assets.trips import sql
from aggregator_assets.trips.sources import ParquetFiles, sample_schema
from aggregator_assets.trips.summarize import _bind_source

SIGNALS = ["Speed", "Missing"]
NAN = float("nan")
# Every row group of "a" and "b" has finite values, so the statistics have a finite min and max
# that exclude NaN: the case DuckDB 2.x folds. The other layouts add an infinite reading and nulls,
# and an all-NaN file whose row groups carry no min/max.
FILES = {"a.parquet": [1.0, NAN, 3.0, NAN], "b.parquet": [NAN, 5.0]}
LAYOUTS = {
    "finite_stats": FILES,
    "with_inf_and_null": FILES | {"d.parquet": [float("inf"), 2.0, None, 1.0]},
    "with_all_nan_file": FILES | {"c.parquet": [NAN, NAN]},
}


def _write(tmp_path, files: dict, with_labels: bool) -> list[str]:
    paths = []
    for name, values in files.items():
        columns = {"t": [float(i) for i in range(len(values))], "Speed": values}
        if not with_labels:
            columns |= {"device_id": ["d1"] * len(values), "message": ["m"] * len(values)}
        path = str(tmp_path / name)
        pq.write_table(pa.table(columns), path, row_group_size=2)
        paths.append(path)
    return paths


def _sources(tmp_path, files: dict) -> dict:
    (tmp_path / "plain").mkdir()
    (tmp_path / "labelled").mkdir()
    plain = _write(tmp_path / "plain", files, with_labels=False)
    labelled = _write(tmp_path / "labelled", files, with_labels=True)
    labels = pa.table({"device_id": ["d1"] * len(labelled), "message": ["m"] * len(labelled)})
    schema = sample_schema(SIGNALS)
    tables = [pq.read_table(p) for p in plain]
    tables = [t.append_column("Missing", pa.nulls(len(t), pa.float64())) for t in tables]
    registered = ds.dataset([t.select(schema.names).cast(schema) for t in tables])
    return {
        "files": ParquetFiles(plain),
        "labelled_files": ParquetFiles(labelled, labels),
        "registered_dataset": registered,
    }


def _stats(source) -> tuple[int, int, float, float]:
    con = duckdb.connect()
    reader, absent, params = _bind_source(con, source, SIGNALS)
    samples = sql.render("devices", SIGNALS, reader, absent).split("SELECT DISTINCT")[0]
    query = samples + (
        "SELECT count(*), count(Speed), max(Speed) FILTER (WHERE isfinite(Speed)),"
        " sum(Speed) FILTER (WHERE isfinite(Speed)) FROM samples"
    )
    params |= {"scan_start": -1.0, "scan_end": 100.0, "messages": ["m"]}
    return con.execute(query, params).fetchone()


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("kind", ["files", "labelled_files", "registered_dataset"])
def test_nan_readings_are_missing_values(tmp_path, layout, kind):
    files = LAYOUTS[layout]
    rows, counted, finite_max, finite_sum = _stats(_sources(tmp_path, files)[kind])
    values = [v for vs in files.values() for v in vs]
    assert rows == len(values)
    # NaN and null are missing; +inf is a value (a sensor may report it), like in windows.
    assert counted == sum(1 for v in values if v is not None and not math.isnan(v))
    finite = [v for v in values if v is not None and math.isfinite(v)]
    assert (finite_max, finite_sum) == (max(finite), sum(finite))
