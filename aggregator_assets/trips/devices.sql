-- Devices and the messages they sent during the day itself (not the lookback or lookahead).
WITH {samples}
SELECT device_id, message
FROM samples
WHERE t >= $day_start AND t < $day_end
GROUP BY device_id, message
ORDER BY device_id, message;
