-- The JSON front of the decoder: parse each value once, type every configured field.
-- validate.sql is appended after `fields` and runs the checks every format shares.
--
-- DuckDB's parser is lenient: it takes trailing commas and NaN/Infinity literals, and gives the
-- first of two equal keys. Strict JSON (RFC 8259) is checked from the text in two steps, so the
-- common record pays one regular-expression pass: $suspect_pattern flags the few values that
-- might break a rule (a configured key's name twice, a key holding an escape, which can spell a
-- name differently, a comma before a closing bracket, NaN or Inf after a value separator), and
-- only those are checked exactly: $not_strict_pattern walks the text string by string and finds
-- a trailing comma or a NaN/Infinity outside a string; the parsed keys (escapes resolved) show
-- whether a configured field is given twice.
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
            AS __lenient_type
    FROM src
),
screened AS (
    SELECT *,
        __lenient_type IS NOT NULL AND regexp_matches(__text, $suspect_pattern) AS __suspect
    FROM parsed
),
strict AS (
    SELECT *,
        -- A CASE condition stops at the first false conjunct: only suspects pay the walk.
        CASE WHEN __suspect AND regexp_matches(__text, $not_strict_pattern) THEN NULL
            ELSE __lenient_type
        END AS __top_type
    FROM screened
),
typed AS (
    SELECT *,
        CASE WHEN __top_type = 'OBJECT' THEN json_type(__text, $paths) END AS __types,
        CASE WHEN __top_type = 'OBJECT' THEN json_transform(__text, $structure) END AS __j,
        CASE WHEN __top_type = 'OBJECT' AND __suspect
            THEN list_filter(json_keys(__text), lambda k: list_contains($field_names, k))
        END AS __configured_keys
    FROM strict
),
fields AS (
    SELECT __partition, __offset, __timestamp, __key, __value, __text, __top_type, __types,
        coalesce(len(__configured_keys) <> len(list_distinct(__configured_keys)), false)
            AS __duplicate_keys,
        {{field_columns}}
    FROM typed
),
{{validate}}
