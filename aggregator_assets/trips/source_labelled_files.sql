source_rows AS (
    -- Local Parquet files whose device_id and message are in their folder names: file_labels
    -- row i describes file number i of $files.
    SELECT l.device_id, l.message, p.*
    FROM read_parquet($files, union_by_name = true, hive_partitioning = false) AS p
    JOIN file_labels AS l ON l.file_index = p.file_index
)
