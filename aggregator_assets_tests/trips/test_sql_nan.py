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
from aggregator_assets.trips.sources import Part, Source, dataset_source
from aggregator_assets.trips.summarize import bind_source

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


def _write(tmp_path, files: dict, with_labels: bool, nan_times: bool = False) -> list[str]:
    """Files of `files` values as Speed, at t = 0, 1, 2, ... (or, with `nan_times`, the values
    as t and Speed 1.0)."""
    paths = []
    for name, values in files.items():
        columns = {"t": [float(i) for i in range(len(values))], "Speed": values}
        if nan_times:
            columns = {"t": values, "Speed": [1.0] * len(values)}
        if not with_labels:
            columns |= {"device_id": ["d1"] * len(values), "message": ["m"] * len(values)}
        path = str(tmp_path / name)
        pq.write_table(pa.table(columns), path, row_group_size=2)
        paths.append(path)
    return paths


def _sources(tmp_path, files: dict, nan_times: bool = False) -> dict:
    (tmp_path / "plain").mkdir()
    (tmp_path / "labelled").mkdir()
    plain = _write(tmp_path / "plain", files, with_labels=False, nan_times=nan_times)
    labelled = _write(tmp_path / "labelled", files, with_labels=True, nan_times=nan_times)
    labels = pa.table({"device_id": ["d1"] * len(labelled), "message": ["m"] * len(labelled)})
    schema = pa.schema(
        [("device_id", pa.string()), ("message", pa.string()), ("t", pa.float64())]
        + [(name, pa.float64()) for name in SIGNALS]
    )
    tables = [pq.read_table(p) for p in plain]
    tables = [t.append_column("Missing", pa.nulls(len(t), pa.float64())) for t in tables]
    registered = ds.dataset([t.select(schema.names).cast(schema) for t in tables])
    columns = frozenset(["device_id", "message", "t", "Speed"])
    return {
        "files": Source((Part(pa.float64(), columns, tuple(plain)),)),
        "labelled_files": Source((Part(pa.float64(), columns, tuple(labelled), labels),)),
        "registered_dataset": dataset_source(registered),
    }


def _samples_query(source: Source, query: str, scan=(-1.0, 100.0)) -> tuple:
    """`query` over the `samples` CTE every trip query starts from, on `source`."""
    con = duckdb.connect()
    rows, params = bind_source(con, source, SIGNALS)
    text = "WITH " + sql.template("samples").format(parts=rows) + "\n" + query
    params |= {"scan_start": scan[0], "scan_end": scan[1], "messages": ["m"]}
    return con.execute(text, sql.parameters(text, params)).fetchone()


def _stats(source) -> tuple[int, int, float, float]:
    return _samples_query(
        source,
        "SELECT count(*), count(Speed), max(Speed) FILTER (WHERE isfinite(Speed)),"
        " sum(Speed) FILTER (WHERE isfinite(Speed)) FROM samples",
    )


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


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("kind", ["files", "labelled_files", "registered_dataset"])
def test_nan_times_are_not_samples(tmp_path, layout, kind):
    """A float `t` of NaN is no time: the row is not a sample (not even with a window that the
    finite statistics put wholly inside), so it can neither start nor end a trip."""
    files = LAYOUTS[layout]
    source = _sources(tmp_path, files, nan_times=True)[kind]
    rows, latest = _samples_query(source, "SELECT count(*), max(t) FROM samples", (-1.0, 100.0))
    times = [v for vs in files.values() for v in vs if v is not None and not math.isnan(v)]
    finite = [v for v in times if math.isfinite(v)]
    assert rows == sum(1 for v in finite if -1.0 <= v < 100.0)
    assert latest == max(finite)
