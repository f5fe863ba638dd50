-- Trips of one cluster: a trip is a maximal run of trip-identifier samples whose consecutive
-- gaps are at most $max_gap_s (counting only samples where an identifier signal has a value).
-- The trip_bins CTEs (trip_bins.sql, rendered into the bins marker) reduce the samples to time
-- bins; one ordered window pass over the bins then gives each bin its gap to the previous and
-- next bin of its device: a bin with no predecessor within the gap starts a trip (at its first
-- sample), one with no successor within the gap ends one (at its last), and the n-th start of
-- a device pairs with its n-th end. Only trips starting inside the day are kept: the scan
-- reaches $max_gap_s back, so a trip running over midnight is seen as continuing and left to
-- the day it started. TripStart/TripEnd (start_s, end_s) are whole epoch seconds around the
-- trip's samples, so every sample of a trip lies in [TripStart, TripEnd] and the types match
-- the legacy tables.
INSERT INTO trips
WITH {samples},
{bins},
gaps AS (
    SELECT
        device_no,
        first_t,
        last_t,
        coalesce(first_t - lag(last_t) OVER w <= $max_gap_s, false) AS continues_before,
        coalesce(lead(first_t) OVER w - last_t <= $max_gap_s, false) AS continues_after
    FROM bins
    WINDOW w AS (PARTITION BY device_no ORDER BY first_t)
),
starts AS (
    SELECT device_no, first_t AS t, row_number() OVER (PARTITION BY device_no ORDER BY first_t)
        AS trip_no
    FROM gaps
    WHERE NOT continues_before
),
ends AS (
    SELECT device_no, last_t AS t, row_number() OVER (PARTITION BY device_no ORDER BY last_t)
        AS trip_no
    FROM gaps
    WHERE NOT continues_after
)
SELECT
    $cluster AS cluster,
    d.device_id,
    s.t AS trip_start,
    e.t AS trip_end,
    CAST(floor(s.t) AS BIGINT) AS start_s,
    CAST(ceil(e.t) AS BIGINT) AS end_s
FROM starts AS s
JOIN ends AS e ON e.device_no = s.device_no AND e.trip_no = s.trip_no
JOIN devices AS d ON d.device_no = s.device_no
WHERE s.t >= $day_start AND s.t < $day_end;
