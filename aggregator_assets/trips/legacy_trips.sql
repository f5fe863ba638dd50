-- Trips of one cluster as the vehicle teams' script cuts them (trip_windows: legacy). Every
-- sample of the trip-identifier message counts, whatever its values; sorted by t, a gap over
-- $max_gap_s starts a new trip (found between the time bins of trip_bins.sql). A trip's window runs from its first sample - 1 s to the next
-- trip's first sample - 2 s, and the device's last trip to its last sample + 1 s, so a window
-- spans the parking gap after its trip. The samples are the day's only (the script reads one
-- day folder), so a trip crossing midnight is cut there. start_s/end_s are the bounds as the
-- script writes them, int(pandas.Timestamp.timestamp()): rounded to the microsecond, then
-- truncated.
INSERT INTO trips
WITH {samples},
{bins},
marked AS (
    SELECT
        device_no,
        first_t AS t,
        coalesce(
            first_t - lag(last_t) OVER (PARTITION BY device_no ORDER BY first_t) > $max_gap_s,
            true
        ) AS starts_trip
    FROM bins
),
last_samples AS (
    SELECT device_no, max(last_t) AS last_t
    FROM bins
    GROUP BY device_no
),
windows AS (
    SELECT
        m.device_no,
        m.t - 1 AS trip_start,
        coalesce(lead(m.t) OVER (PARTITION BY m.device_no ORDER BY m.t) - 2, l.last_t + 1)
            AS trip_end
    FROM marked AS m
    JOIN last_samples AS l ON l.device_no = m.device_no
    WHERE m.starts_trip
)
SELECT
    $cluster AS cluster,
    d.device_id,
    w.trip_start,
    w.trip_end,
    CAST(trunc(round(w.trip_start, 6)) AS BIGINT) AS start_s,
    CAST(trunc(round(w.trip_end, 6)) AS BIGINT) AS end_s
FROM windows AS w
JOIN devices AS d ON d.device_no = w.device_no;
