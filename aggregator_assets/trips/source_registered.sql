-- A dataset registered on the connection (a pyarrow dataset, e.g. over S3).
part_{i} AS p
