source_rows AS (
    -- Local Parquet files with device_id and message columns, read by DuckDB itself.
    SELECT * FROM read_parquet($files, union_by_name = true, hive_partitioning = false)
)
