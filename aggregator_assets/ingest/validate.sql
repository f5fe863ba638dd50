-- The checks every value format shares, run over typed field columns in one vectorised pass.
-- A format's front query (decode_json.sql, decode_avro.sql) ends with a `fields` CTE holding
-- __partition, __offset, __timestamp, __key, __value and one typed column per configured field;
-- this tail is appended after it. Parts in {{double braces}} are generated from the validated
-- topic config (quoted identifiers, list positions and the format's own checks); every value
-- comes in as a named parameter. Internal columns start with "__", a prefix fields may not use.
local_times AS (
    SELECT *, {{local_instants}} AS __local_instants
    FROM fields
),
timed AS (
    SELECT *, {{event_time_expr}} AS __event_time, {{event_time_detail}} AS __event_time_detail
    FROM local_times
),
checked AS (
    SELECT *,
        CASE
            WHEN __value IS NULL THEN 'null_value'
            WHEN octet_length(__value) = 0 THEN 'empty_value'
            WHEN octet_length(__value) > $max_value_bytes THEN 'value_too_large'
            {{format_checks}}
            {{field_checks}}
            WHEN __event_time IS NULL
                THEN 'invalid_event_time' || coalesce(':' || __event_time_detail, '')
            WHEN __event_time < $partitions_start THEN 'event_time_before_start'
            WHEN __event_time > __timestamp + $max_future_skew THEN 'event_time_in_future'
        END AS __problem
    FROM timed
)
SELECT
    split_part(__problem, ':', 1) AS __reason,
    nullif(split_part(__problem, ':', 2), '') AS __detail,
    CASE
        WHEN __problem IS NULL THEN date_trunc('hour', __event_time)
        ELSE greatest(date_trunc('hour', __timestamp), $partitions_start)
    END AS __hour,
    {{output_columns}},
    {{flag_columns}}
    -- Python and pandas cannot hold years past 9999: such a quarantined time is kept as null.
    CASE WHEN __problem IS NULL OR year(__event_time) <= 9999 THEN __event_time END AS event_time,
    __partition AS kafka_partition,
    __offset AS kafka_offset,
    __timestamp AS kafka_timestamp,
    __problem IS NULL
        AND __timestamp > date_trunc('hour', __event_time) + INTERVAL 1 HOUR + $lateness
        AS is_late,
    CASE WHEN __problem IS NOT NULL THEN __key END AS __key,
    CASE WHEN __problem IS NOT NULL THEN __value END AS __value
FROM checked
