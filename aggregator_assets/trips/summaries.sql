-- One row per trip x configured (message, signal, aggregation). Each sample finds its trip by an
-- equality join on (device, message, time bucket) to the trips cut into $bucket_s buckets, once
-- per message their cluster aggregates (trip_buckets), then the window check [trip_start,
-- trip_end] (trips of a device never overlap, so a sample has at most one). The samples are
-- then aggregated once per (trip, message), every signal in its own columns (the signal_stats
-- marker, rendered by sql.py: count always, the other aggregations only for the signals a spec
-- asks them of), and each configured (signal, aggregation) picks its column (the value and
-- count markers).
-- Aggregating signals side by side rather than fanning each sample out to its signals keeps
-- the join and the GROUP BY at one row per sample. A configured message without data in a trip
-- still yields its rows (LEFT JOIN): Value NULL (0 for count), Count 0, Duration NULL.
-- With $legacy (trip_windows: legacy) the rows are the script's: only for the (device, message,
-- signal) the day's data holds (`held`), a sum over no values is 0 as in pandas, and Duration
-- is rounded to the microsecond, as pandas computes it from exact timestamps.
WITH {samples},
numbered_trips AS (
    SELECT row_number() OVER (ORDER BY device_id, trip_start) AS trip_no, *
    FROM trips
),
trip_buckets AS MATERIALIZED (
    -- Small, and materialized so that the samples meet it in one join with it as the hash
    -- table. Left to reorder joins, DuckDB may build the hash table on the joined samples when
    -- it underestimates them (a time computed from a timestamp column has no statistics),
    -- which needs gigabytes.
    SELECT
        tr.trip_no,
        tr.device_id,
        cm.message,
        cm.message_no,
        tr.trip_start,
        tr.trip_end,
        unnest(range(
            CAST(floor(tr.trip_start / $bucket_s) AS BIGINT),
            CAST(floor(tr.trip_end / $bucket_s) AS BIGINT) + 1
        )) AS bucket
    FROM numbered_trips AS tr
    JOIN cluster_messages AS cm ON cm.cluster = tr.cluster
),
joined AS (
    SELECT tb.trip_no, tb.message_no, s.*
    FROM samples AS s
    JOIN trip_buckets AS tb
        ON tb.device_id = s.device_id
        AND tb.message = s.message
        AND tb.bucket = CAST(floor(s.t / $bucket_s) AS BIGINT)
        AND s.t >= tb.trip_start
        AND s.t <= tb.trip_end
),
stats AS (
    SELECT
        trip_no,
        message_no,
        min(t) AS first_t,
        max(t) AS last_t,
        {signal_stats}
    FROM joined
    GROUP BY trip_no, message_no
)
SELECT
    tr.device_id AS "DeviceID",
    sp.message AS "Message",
    sp.signal AS "Signal",
    sp.aggregation AS "Aggregation",
    CAST({value} AS DOUBLE) AS "Value",
    CAST(coalesce({count}, 0) AS BIGINT) AS "Count",
    CAST(CASE
        WHEN $legacy THEN round((st.last_t - st.first_t) * 1e6) / 1e6
        ELSE st.last_t - st.first_t
    END AS DOUBLE) AS "Duration",
    tr.start_s AS "TripStart",
    tr.end_s AS "TripEnd",
    tr.device_id || '_' || CAST(tr.start_s AS VARCHAR) AS "TripID",
    tr.cluster AS "Cluster"
FROM numbered_trips AS tr
JOIN specs AS sp ON sp.cluster = tr.cluster
LEFT JOIN stats AS st ON st.trip_no = tr.trip_no AND st.message_no = sp.message_no
WHERE NOT $legacy OR EXISTS (
    SELECT 1
    FROM held AS h
    WHERE h.device_id = tr.device_id AND h.message = sp.message AND h.signal = sp.signal
)
ORDER BY "TripStart", "DeviceID", sp.spec_order;
