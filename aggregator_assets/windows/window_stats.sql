-- Tumbling-window statistics of one raw hour: one row per (key, window).
-- Input relation `raw`: key codes k0..kN (non-null integers standing for the key values, decoded
-- by the caller), numeric fields v0..vM, event_time. The braced placeholders receive those
-- generated aliases and quoted output names built by compute.py; every value (window size,
-- domain-count thresholds) is a $parameter. Windows are aligned to the epoch:
-- window_index = floor(epoch_us / window_us).
-- Medians get their own GROUP BY so DuckDB's holistic median state does not widen the hash
-- table of the cheap streaming aggregates; the two results are joined on (key codes, window).
WITH cleaned AS (
    SELECT
        {key_codes},
        epoch_us(event_time) // $window_us AS window_index,
        {cleaned_values}
    FROM raw
),
stats AS (
    SELECT
        {key_codes},
        window_index,
        count(*) AS event_count,
        {aggregates}
    FROM cleaned
    GROUP BY {key_codes}, window_index
),
medians AS (
    SELECT
        {key_codes},
        window_index,
        {medians}
    FROM cleaned
    GROUP BY {key_codes}, window_index
)
SELECT
    stats.*,
    medians.* EXCLUDE ({key_codes}, window_index),
    make_timestamp(window_index * $window_us) AS window_start,
    make_timestamp((window_index + 1) * $window_us) AS window_end
FROM stats
JOIN medians USING ({key_codes}, window_index)
