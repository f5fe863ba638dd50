identifier AS (
    -- The cluster's trip-identifier samples that count (the identifier_present marker, rendered
    -- by sql.py); devices are numbered (device_no): ordering by an integer is much cheaper.
    SELECT d.device_no, s.t
    FROM samples AS s
    JOIN devices AS d ON d.device_id = s.device_id AND d.cluster = $cluster
    WHERE s.message = $trip_message AND ({identifier_present})
),
bins AS (
    -- Samples less than $max_gap_s apart never part a trip, so each device's samples are
    -- reduced to the first and last of every $max_gap_s-wide time bin (a hash aggregate, no
    -- sort): the window pass that finds the gaps then sorts one row per bin, not per sample.
    SELECT device_no, min(t) AS first_t, max(t) AS last_t
    FROM identifier
    GROUP BY device_no, floor(t / $max_gap_s)
)
