source_rows AS (
    -- A source registered on the connection (a pyarrow dataset, e.g. over S3).
    SELECT * FROM source
)
