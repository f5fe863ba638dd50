"""The names and descriptions of the windows data checks, importable without Arrow: the code
location declares the checks when it loads; `checks.py` computes them when a run executes."""

COUNTS_MATCH_RAW = "window_counts_match_raw"
NO_NULL_KEYS = "no_null_keys"
WINDOWS_INSIDE_HOUR = "windows_inside_hour"
CHECK_DESCRIPTIONS = {
    COUNTS_MATCH_RAW: "The event counts of all windows sum to the raw hour's row count.",
    NO_NULL_KEYS: "No window has a null key field (rows without a device id cannot be grouped).",
    WINDOWS_INSIDE_HOUR: "Every window lies inside its hour partition: [hour, hour + 1h).",
}
