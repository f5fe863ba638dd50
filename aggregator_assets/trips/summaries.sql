-- One row per trip x configured (message, signal, aggregation). Each sample finds its trip by an
-- equality join on (device, time bucket) to the trips cut into $bucket_s buckets, then the window
-- check [trip_start, trip_end] (trips of a device never overlap, so a sample has at most one);
-- it is fanned out to the cluster's signals of its message (message_signals, joined to the
-- trips first as trip_pairs; the signal_value marker, rendered by sql.py, picks the column by
-- signal_idx) and aggregated once per (trip, message, signal). The costlier aggregations run
-- only where a spec asks for them (the wants_ flags); each configured aggregation then picks
-- its column. A configured message without data
-- in a trip still yields its rows (LEFT JOIN): Value NULL (0 for count), Count 0, Duration NULL.
-- With $legacy (trip_windows: legacy) the rows are the script's: only for the (device, message,
-- signal) the day's data holds (`held`), a sum over no values is 0 as in pandas, and Duration
-- is rounded to the microsecond, as pandas computes it from exact timestamps.
WITH {samples},
numbered_trips AS (
    SELECT row_number() OVER (ORDER BY device_id, trip_start) AS trip_no, *
    FROM trips
),
trip_buckets AS (
    SELECT
        trip_no,
        cluster,
        device_id,
        trip_start,
        trip_end,
        unnest(range(
            CAST(floor(trip_start / $bucket_s) AS BIGINT),
            CAST(floor(trip_end / $bucket_s) AS BIGINT) + 1
        )) AS bucket
    FROM numbered_trips
),
trip_pairs AS MATERIALIZED (
    -- Each trip bucket with its cluster's (message, signal) pairs: small, and materialized so
    -- that the samples meet it in one join, with it as the hash table. Left to reorder the
    -- joins, DuckDB may build the hash table on the joined samples when it underestimates them
    -- (a time computed from a timestamp column has no statistics), which needs gigabytes.
    SELECT tb.*, ms.message, ms.signal_idx, ms.pair_no, ms.wants_median, ms.wants_stdev,
        ms.wants_first, ms.wants_last
    FROM trip_buckets AS tb
    JOIN message_signals AS ms ON ms.cluster = tb.cluster
),
joined AS (
    SELECT
        tp.trip_no,
        tp.pair_no,
        tp.wants_median,
        tp.wants_stdev,
        tp.wants_first,
        tp.wants_last,
        s.t,
        {signal_value} AS v
    FROM samples AS s
    JOIN trip_pairs AS tp
        ON tp.device_id = s.device_id
        AND tp.message = s.message
        AND tp.bucket = CAST(floor(s.t / $bucket_s) AS BIGINT)
        AND s.t >= tp.trip_start
        AND s.t <= tp.trip_end
),
stats AS (
    SELECT
        trip_no,
        pair_no,
        count(v) AS n,
        min(t) AS first_t,
        max(t) AS last_t,
        avg(v) AS v_avg,
        max(v) AS v_max,
        min(v) AS v_min,
        sum(v) AS v_sum,
        median(v) FILTER (WHERE wants_median) AS v_median,
        stddev_samp(v) FILTER (WHERE wants_stdev) AS v_stdev,
        arg_min(v, t) FILTER (WHERE v IS NOT NULL AND wants_first) AS v_first,
        arg_max(v, t) FILTER (WHERE v IS NOT NULL AND wants_last) AS v_last
    FROM joined
    GROUP BY trip_no, pair_no
)
SELECT
    tr.device_id AS "DeviceID",
    sp.message AS "Message",
    sp.signal AS "Signal",
    sp.aggregation AS "Aggregation",
    CAST(CASE sp.aggregation
        WHEN 'avg' THEN st.v_avg
        WHEN 'max' THEN st.v_max
        WHEN 'min' THEN st.v_min
        WHEN 'sum' THEN CASE WHEN $legacy THEN coalesce(st.v_sum, 0) ELSE st.v_sum END
        WHEN 'median' THEN st.v_median
        WHEN 'stdev' THEN st.v_stdev
        WHEN 'first' THEN st.v_first
        WHEN 'last' THEN st.v_last
        WHEN 'count' THEN coalesce(st.n, 0)
    END AS DOUBLE) AS "Value",
    CAST(coalesce(st.n, 0) AS BIGINT) AS "Count",
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
LEFT JOIN stats AS st ON st.trip_no = tr.trip_no AND st.pair_no = sp.pair_no
WHERE NOT $legacy OR EXISTS (
    SELECT 1
    FROM held AS h
    WHERE h.device_id = tr.device_id AND h.message = sp.message AND h.signal = sp.signal
)
ORDER BY "TripStart", "DeviceID", sp.spec_order;
