-- The day's trips, those still running near the end of the lookahead, and their time span.
SELECT
    count(*) AS trips,
    count(*) FILTER (WHERE trip_end > $limit) AS reaching_lookahead_end,
    min(trip_start) AS first_start,
    max(trip_end) AS last_end
FROM trips;
