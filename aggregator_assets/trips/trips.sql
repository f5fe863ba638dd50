-- Trips of one cluster: a trip is a maximal run of trip-identifier samples whose consecutive
-- gaps are at most $max_gap_s. A sample starts a trip when it has no predecessor within the
-- gap (lag over the device's samples); a running sum of those flags numbers the trips. Only
-- trips starting inside the day are kept: the scan reaches $max_gap_s back, so a trip running
-- over midnight is seen as continuing and left to the day it started. The identifier_present
-- marker is rendered by sql.py from the quoted identifier signals.
INSERT INTO trips
WITH {samples},
identifier AS (
    SELECT s.device_id, s.t
    FROM samples AS s
    JOIN devices AS d ON d.device_id = s.device_id AND d.cluster = $cluster
    WHERE s.message = $trip_message AND ({identifier_present})
),
flagged AS (
    SELECT
        device_id,
        t,
        CASE WHEN t - lag(t) OVER (PARTITION BY device_id ORDER BY t) <= $max_gap_s
            THEN 0 ELSE 1 END AS starts_trip
    FROM identifier
),
numbered AS (
    SELECT
        device_id,
        t,
        sum(starts_trip) OVER (
            PARTITION BY device_id ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS trip_no
    FROM flagged
)
SELECT $cluster AS cluster, device_id, min(t) AS trip_start, max(t) AS trip_end
FROM numbered
GROUP BY device_id, trip_no
HAVING min(t) >= $day_start AND min(t) < $day_end;
