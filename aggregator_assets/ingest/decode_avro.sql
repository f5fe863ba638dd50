-- The Avro front of the decoder: the bodies were already decoded (fastavro) into typed columns,
-- with __format_problem naming what made a record unreadable ('reason:detail', else NULL).
-- validate.sql is appended after `fields` and runs the checks every format shares.
WITH fields AS (
    SELECT
        kafka_partition AS __partition,
        kafka_offset AS __offset,
        kafka_timestamp AS __timestamp,
        key AS __key,
        value AS __value,
        __format_problem,
        {{field_columns}}
    FROM records
),
{{validate}}
