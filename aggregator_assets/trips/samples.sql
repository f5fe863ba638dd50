source_rows AS (
    -- The source's parts stacked (source_part.sql, one per type of time column, rendered by
    -- sql.py): device_id, message, t in epoch seconds and the signals as DOUBLE, NaN as NULL.
    {parts}
),
samples AS (
    -- The configured messages' samples in the scan window, read lazily from the source.
    SELECT *
    FROM source_rows
    WHERE t >= $scan_start
      AND t < $scan_end
      AND device_id IS NOT NULL
      AND list_contains($messages, message)
)
