-- Hourly mean value and low-battery windows per device type, from the 1-minute windows.
SELECT device_type,
       date_trunc('hour', window_start) AS hour,
       sum(event_count) AS events,
       avg(avg_value) AS mean_of_window_means,
       sum(low_battery_count) AS low_battery_readings
FROM windows_iot_events_1m
GROUP BY ALL
ORDER BY hour DESC, device_type
LIMIT 24;

-- Raw rows and late rows per hour partition.
SELECT year, month, day, hour, count(*) AS rows, count(*) FILTER (WHERE is_late) AS late
FROM raw_iot_events
GROUP BY ALL
ORDER BY ALL DESC
LIMIT 24;

-- Why records were quarantined.
SELECT reason, count(*) AS records FROM quarantine_iot_events GROUP BY reason ORDER BY records DESC;
