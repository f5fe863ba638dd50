samples AS (
    -- The configured messages' samples in the scan window, read lazily from the source (a
    -- pyarrow dataset) with NaN turned into NULL so that every aggregation skips it. The
    -- signal_columns marker is the quoted signal list from sql.py.
    SELECT
        CAST(device_id AS VARCHAR) AS device_id,
        CAST(message AS VARCHAR) AS message,
        CAST(t AS DOUBLE) AS t,
        {signal_columns}
    FROM source
    WHERE t >= $scan_start
      AND t < $scan_end
      AND device_id IS NOT NULL
      AND list_contains($messages, CAST(message AS VARCHAR))
)
