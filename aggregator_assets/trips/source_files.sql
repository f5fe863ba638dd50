-- Local Parquet files with device_id and message columns, read by DuckDB itself.
read_parquet($files_{i}, union_by_name = true, hive_partitioning = false) AS p
