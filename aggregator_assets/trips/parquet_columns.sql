-- The union of the files' columns (footers only), so a signal absent from every file of the day
-- becomes a NULL column as it does for a pyarrow dataset with a fixed schema.
DESCRIBE SELECT * FROM read_parquet($files, union_by_name = true, hive_partitioning = false);
