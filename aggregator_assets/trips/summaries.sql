-- One row per trip x configured (message, signal, aggregation). Samples are joined to their
-- trip window [trip_start, trip_end], fanned out to the cluster's signals of their message
-- (the signal_value marker, rendered by sql.py, picks the column by signal_idx), and
-- aggregated once per (trip, message, signal); each configured aggregation then picks its
-- column. A configured message without data in a trip still yields its rows (LEFT JOIN):
-- Value NULL (0 for count), Count 0, Duration NULL.
WITH {samples},
joined AS (
    SELECT
        tr.cluster,
        tr.device_id,
        tr.trip_start,
        s.message,
        ms.signal,
        s.t,
        {signal_value} AS v
    FROM trips AS tr
    JOIN samples AS s
        ON s.device_id = tr.device_id AND s.t >= tr.trip_start AND s.t <= tr.trip_end
    JOIN message_signals AS ms ON ms.cluster = tr.cluster AND ms.message = s.message
),
stats AS (
    SELECT
        cluster,
        device_id,
        trip_start,
        message,
        signal,
        count(v) AS n,
        min(t) AS first_t,
        max(t) AS last_t,
        avg(v) AS v_avg,
        max(v) AS v_max,
        min(v) AS v_min,
        sum(v) AS v_sum,
        median(v) AS v_median,
        stddev_samp(v) AS v_stdev,
        arg_min(v, t) FILTER (WHERE v IS NOT NULL) AS v_first,
        arg_max(v, t) FILTER (WHERE v IS NOT NULL) AS v_last
    FROM joined
    GROUP BY cluster, device_id, trip_start, message, signal
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
        WHEN 'sum' THEN st.v_sum
        WHEN 'median' THEN st.v_median
        WHEN 'stdev' THEN st.v_stdev
        WHEN 'first' THEN st.v_first
        WHEN 'last' THEN st.v_last
        WHEN 'count' THEN coalesce(st.n, 0)
    END AS DOUBLE) AS "Value",
    CAST(coalesce(st.n, 0) AS BIGINT) AS "Count",
    CAST(st.last_t - st.first_t AS DOUBLE) AS "Duration",
    tr.trip_start AS "TripStart",
    tr.trip_end AS "TripEnd",
    tr.device_id || '_' || CAST(CAST(floor(tr.trip_start) AS BIGINT) AS VARCHAR) AS "TripID",
    tr.cluster AS "Cluster"
FROM trips AS tr
JOIN specs AS sp ON sp.cluster = tr.cluster
LEFT JOIN stats AS st
    ON st.cluster = tr.cluster
    AND st.device_id = tr.device_id
    AND st.trip_start = tr.trip_start
    AND st.message = sp.message
    AND st.signal = sp.signal
ORDER BY "TripStart", "DeviceID", sp.spec_order;
