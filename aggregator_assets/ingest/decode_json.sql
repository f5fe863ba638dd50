-- The JSON front of the decoder: parse each value once, type every configured field.
-- validate.sql is appended after `fields` and runs the checks every format shares.
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
        CASE WHEN __top_type = 'OBJECT' THEN json_transform(__text, $structure) END AS __j,
        CASE WHEN __top_type = 'OBJECT' THEN json_keys(__text) END AS __keys
    FROM parsed
),
fields AS (
    SELECT __partition, __offset, __timestamp, __key, __value, __text, __top_type, __types,
        len(__keys) <> len(list_distinct(__keys)) AS __duplicate_keys,
        {{field_columns}}
    FROM typed
),
{{validate}}
