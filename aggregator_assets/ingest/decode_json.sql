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
        -- A configured field given twice is ambiguous (parsers disagree on which one wins).
        -- The exact check costs more than the parse, so it runs only where a field's quoted
        -- name occurs twice in the text, which is rare.
        CASE WHEN __top_type = 'OBJECT' AND ({{names_occurring_twice}})
            THEN len(json_keys(__text)) <> len(list_distinct(json_keys(__text)))
            ELSE false
        END AS __duplicate_keys
    FROM parsed
),
fields AS (
    SELECT __partition, __offset, __timestamp, __key, __value, __text, __top_type, __types,
        __duplicate_keys,
        {{field_columns}}
    FROM typed
),
{{validate}}
