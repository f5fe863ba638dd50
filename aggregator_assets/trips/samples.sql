{source_rows},
samples AS (
    -- The configured messages' samples in the scan window, read lazily from the source with
    -- NaN turned into NULL so that every aggregation skips it. The signal_columns marker is the
    -- quoted signal list from sql.py (NULL for a signal no file of the day has).
    SELECT
        CAST(device_id AS VARCHAR) AS device_id,
        CAST(message AS VARCHAR) AS message,
        CAST(t AS DOUBLE) AS t,
        {signal_columns}
    FROM source_rows
    WHERE t >= $scan_start
      AND t < $scan_end
      AND device_id IS NOT NULL
      AND list_contains($messages, CAST(message AS VARCHAR))
)
