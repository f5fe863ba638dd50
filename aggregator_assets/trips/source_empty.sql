-- A source without files: the columns of source_part.sql and no rows.
SELECT
    CAST(NULL AS VARCHAR) AS device_id,
    CAST(NULL AS VARCHAR) AS message,
    CAST(NULL AS DOUBLE) AS t,
    {signal_columns}
WHERE false
