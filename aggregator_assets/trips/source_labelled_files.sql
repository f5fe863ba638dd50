-- Local Parquet files whose device_id and message are in their folder names: labels_{i} row n
-- describes file number n of $files_{i}.
read_parquet($files_{i}, union_by_name = true, hive_partitioning = false) AS p
JOIN labels_{i} AS l ON l.file_index = p.file_index
