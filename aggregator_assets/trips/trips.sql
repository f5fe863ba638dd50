-- Trips of one cluster: a trip is a maximal run of trip-identifier samples whose consecutive
-- gaps are at most $max_gap_s. One ordered window pass gives each sample its gap to the previous
-- and next sample of its device: a sample with no predecessor within the gap starts a trip, one
-- with no successor within the gap ends one, and the n-th start of a device pairs with its n-th
-- end. Only trips starting inside the day are kept: the scan reaches $max_gap_s back, so a trip
-- running over midnight is seen as continuing and left to the day it started. The
-- identifier_present marker is rendered by sql.py from the quoted identifier signals; devices
-- are numbered (device_no) because ordering by an integer key is much cheaper than by a string.
-- TripStart/TripEnd (start_s, end_s) are whole epoch seconds around the trip's samples, so
-- every sample of a trip lies in [TripStart, TripEnd] and the types match the legacy tables.
INSERT INTO trips
WITH {samples},
identifier AS (
    SELECT d.device_no, s.t
    FROM samples AS s
    JOIN devices AS d ON d.device_id = s.device_id AND d.cluster = $cluster
    WHERE s.message = $trip_message AND ({identifier_present})
),
gaps AS (
    SELECT
        device_no,
        t,
        coalesce(t - lag(t) OVER w <= $max_gap_s, false) AS continues_before,
        coalesce(lead(t) OVER w - t <= $max_gap_s, false) AS continues_after
    FROM identifier
    WINDOW w AS (PARTITION BY device_no ORDER BY t)
),
bounds AS (
    SELECT device_no, t, NOT continues_before AS starts_trip, NOT continues_after AS ends_trip
    FROM gaps
    WHERE NOT (continues_before AND continues_after)
),
starts AS (
    SELECT device_no, t, row_number() OVER (PARTITION BY device_no ORDER BY t) AS trip_no
    FROM bounds
    WHERE starts_trip
),
ends AS (
    SELECT device_no, t, row_number() OVER (PARTITION BY device_no ORDER BY t) AS trip_no
    FROM bounds
    WHERE ends_trip
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
