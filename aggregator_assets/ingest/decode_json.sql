-- Decode and validate one batch of Kafka records of a JSON topic, in one vectorised pass.
-- Parts in {{double braces}} are generated from the validated topic config (quoted
-- identifiers and list positions only); every value comes in as a named parameter.
-- Internal columns start with "__", a prefix topic fields may not use.
WITH src AS (
    SELECT
        kafka_partition AS __partition,
        kafka_offset AS __offset,
        kafka_timestamp AS __timestamp,
        key AS __key,
        value AS __value,
        try(decode(value)) AS __text
    FROM records
),
parsed AS (
    SELECT *,
        CASE WHEN __text IS NOT NULL AND json_valid(__text) THEN json_type(__text) END
            AS __top_type
    FROM src
),
typed AS (
    SELECT *,
        CASE WHEN __top_type = 'OBJECT' THEN json_type(__text, $paths) END AS __types,
        CASE WHEN __top_type = 'OBJECT' THEN json_transform(__text, $structure) END AS __j
    FROM parsed
),
fields AS (
    SELECT __partition, __offset, __timestamp, __key, __value, __text, __top_type, __types,
        {{field_columns}}
    FROM typed
),
timed AS (
    SELECT *, {{event_time_expr}} AS __event_time
    FROM fields
),
checked AS (
    SELECT *,
        CASE
            WHEN __value IS NULL THEN 'null_value'
            WHEN octet_length(__value) = 0 THEN 'empty_value'
            WHEN octet_length(__value) > $max_value_bytes THEN 'value_too_large'
            WHEN __text IS NULL THEN 'invalid_utf8'
            WHEN __top_type IS NULL THEN 'malformed_json'
            WHEN __top_type <> 'OBJECT' THEN 'not_an_object'
            {{field_checks}}
            WHEN __event_time IS NULL THEN 'invalid_event_time'
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
    __event_time AS event_time,
    __partition AS kafka_partition,
    __offset AS kafka_offset,
    __timestamp AS kafka_timestamp,
    __problem IS NULL
        AND __timestamp > date_trunc('hour', __event_time) + INTERVAL 1 HOUR + $lateness
        AS is_late,
    CASE WHEN __problem IS NOT NULL THEN __key END AS __key,
    CASE WHEN __problem IS NOT NULL THEN __value END AS __value
FROM checked
