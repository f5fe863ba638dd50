-- Devices with any configured message during the day itself (not the lookback or lookahead).
WITH {samples}
SELECT DISTINCT device_id
FROM samples
WHERE t >= $day_start AND t < $day_end
ORDER BY device_id;
