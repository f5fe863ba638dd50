-- The instants a local wall-clock time (TIMESTAMP) names in an IANA zone: one as a rule, none
-- inside a daylight-saving gap, two inside a repeated hour. The candidates are the local time
-- minus the zone's UTC offset a day earlier and a day later (offsets change at most once in
-- two days in every zone); a candidate counts when it reads back as the same local time.
-- NULL for a NULL time. Needs the session time zone to be UTC (the decoder sets it), so that
-- TIMESTAMP -> TIMESTAMPTZ reads the wall clock as UTC.
CREATE OR REPLACE TEMP MACRO local_instants(local_time, zone) AS
CASE WHEN local_time IS NOT NULL THEN list_distinct(list_filter(
    [
        local_time::TIMESTAMPTZ - (
            timezone(zone, local_time::TIMESTAMPTZ - INTERVAL 1 DAY) - (local_time - INTERVAL 1 DAY)
        ),
        local_time::TIMESTAMPTZ - (
            timezone(zone, local_time::TIMESTAMPTZ + INTERVAL 1 DAY) - (local_time + INTERVAL 1 DAY)
        )
    ],
    lambda instant: timezone(zone, instant) = local_time
)) END;
