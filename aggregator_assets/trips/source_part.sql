-- One part of the source: files or a dataset whose time column has one type. {t} is that time
-- in epoch seconds (rendered by sql.py for the type: timestamps of any unit, naive ones being
-- UTC, or numbers of seconds, NaN as NULL); {t_filter} is the same without the NaN guard, which
-- DuckDB can push into the scan to skip row groups outside the window.
SELECT
    CAST({device_id} AS VARCHAR) AS device_id,
    CAST({message} AS VARCHAR) AS message,
    {t} AS t,
    {signal_columns}
FROM {reader}
WHERE {t_filter} >= $scan_start AND {t_filter} < $scan_end
