"""The bad-input corpus: every kind of record a producer can send, and where each must end.

Each case is one Kafka value (or two, for a duplicate delivery) with the outcome the pipeline
promises: a raw row (optionally with the exact field values it must carry) or a quarantine row
with a specific reason and detail. `xfail` names a decoder change still to be made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from aggregator_assets_tests.ingest.helpers import BASE_HOUR

EVENT_AT = BASE_HOUR + timedelta(minutes=5)
ARRIVAL_AT = BASE_HOUR + timedelta(minutes=30)
ISO = "iso"  # the helpers' topic: iso8601 `timestamp`; its name contains dots
EPOCH_S = "epoch_s"
EPOCH_MS = "epoch_ms"
LOCAL = "local"  # the iso topic with `event_time.timezone: Europe/Berlin`
HOSTILE_DEVICE_IDS = {
    "slash": "a/b/c",
    "dotdot": "../../../etc/passwd",
    "quotes": 'it\'s "quoted" `x`',
    "sql": "'; DROP TABLE records; -- $1 {{validate}}",
    "unicode": "溫度計-🌡️-\u200b\u202eevil",
    "nul_byte": "a\x00b",
}


@dataclass(frozen=True)
class Case:
    id: str
    value: bytes | None
    where: str  # "raw" or "quarantine"
    reason: str | None = None  # quarantine reason ...
    detail: str | None = None  # ... and detail (the field), when the reason has one
    topic: str = ISO
    expect: dict = field(default_factory=dict)  # raw: exact column values
    copies: int = 1
    xfail: str | None = None


def body(**fields) -> bytes:
    """A valid iot value; `field=...` removes a field, `field=value` replaces it."""
    base = {
        "device_id": "dev-1",
        "timestamp": EVENT_AT.isoformat().replace("+00:00", "Z"),
        "value": 1.5,
        "battery_level": 50,
        "metadata": {"fw": "1.0"},
    }
    for name, value in fields.items():
        if value is ...:
            base.pop(name)
        else:
            base[name] = value
    return json.dumps(base, ensure_ascii=False).encode()


def epoch(ts: object) -> bytes:
    return json.dumps({"device_id": "dev-1", "ts": ts, "value": 1.0}).encode()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


EPOCH_S_VALUE = EVENT_AT.timestamp()
NESTED = b'{"a":' * 2000 + b"1" + b"}" * 2000
VALUE_TOO_LARGE = body(metadata="x" * (1024 * 1024))
VALUE_LARGE_OK = body(metadata="x" * (900 * 1024))
DUPLICATE = body(device_id="dev-dup", value=7.25)
QUOTED = {"x": 'a\\"b,] NaN', "y": "\\"}  # escapes a text scan must not lose its place in
Q = "quarantine"

CASES = [
    # -- not JSON at all --------------------------------------------------------------------------
    Case("malformed_json", b"{not json", Q, "malformed_json"),
    Case("truncated_json", body()[:-5], Q, "malformed_json"),
    Case("trailing_garbage", body() + b" xyz", Q, "malformed_json"),
    Case("two_objects", body() + body(), Q, "malformed_json"),
    Case("utf8_bom", b"\xef\xbb\xbf" + body(), Q, "malformed_json"),
    Case(
        "lone_surrogate_escape",
        body(device_id="SURROGATE").replace(b"SURROGATE", b"\\ud800"),
        Q,
        "malformed_json",
    ),
    Case("non_utf8", b"\xff\xfe\x00{", Q, "invalid_utf8"),
    Case("overlong_utf8", body(device_id="X").replace(b'"X"', b'"\xc0\xaf"'), Q, "invalid_utf8"),
    Case("empty_value", b"", Q, "empty_value"),
    Case("tombstone", None, Q, "null_value"),
    # -- JSON, but not an object ----------------------------------------------------------------
    Case("json_array", b"[1, 2]", Q, "not_an_object"),
    Case("json_string", b'"hello"', Q, "not_an_object"),
    Case("json_number", b"42", Q, "not_an_object"),
    Case("json_null_literal", b"null", Q, "not_an_object"),
    # -- fields ---------------------------------------------------------------------------------
    Case("missing_required", body(value=...), Q, "missing_field", "value"),
    Case("null_required", body(device_id=None), Q, "null_field", "device_id"),
    Case("missing_optional", body(battery_level=...), "raw", expect={"battery_level": None}),
    Case("null_optional", body(metadata=None), "raw", expect={"metadata": None}),
    Case("unknown_extra_field", body(extra={"x": 1}), "raw", expect={"value": 1.5}),
    Case("wrong_type_bool", body(value=True), Q, "wrong_type", "value"),
    Case("wrong_type_object", body(value={"v": 1}), Q, "wrong_type", "value"),
    Case("float_for_int", body(battery_level=50.5), Q, "wrong_type", "battery_level"),
    Case("number_as_string", body(value="12.5"), Q, "wrong_type", "value"),
    Case("int_as_string", body(battery_level="50"), Q, "wrong_type", "battery_level"),
    Case("int_for_float", body(value=3), "raw", expect={"value": 3.0}),
    Case("negative_zero", body(value=-0.0), "raw", expect={"value": 0.0}),
    # NaN and Infinity are not JSON (RFC 8259), though Python's json.dumps writes them.
    Case("nan", body(value=float("nan")), Q, "malformed_json"),
    Case("infinity", body(value=float("inf")), Q, "malformed_json"),
    Case("minus_infinity", body(value=float("-inf")), Q, "malformed_json"),
    Case(
        "overflowing_float", body(value=...)[:-1] + b', "value": 1e400}', Q, "non_finite", "value"
    ),
    Case(
        "overflowing_int",
        body(battery_level=...)[:-1] + b', "battery_level": 1' + b"0" * 25 + b"}",
        Q,
        "wrong_type",
        "battery_level",
    ),
    Case("above_max", body(battery_level=400), Q, "out_of_range", "battery_level"),
    Case("below_min", body(battery_level=-1), Q, "out_of_range", "battery_level"),
    Case("at_bounds", body(battery_level=100), "raw", expect={"battery_level": 100}),
    Case("json_metadata_as_text", body(metadata="plain"), "raw", expect={"metadata": '"plain"'}),
    Case(
        "duplicate_key",
        body(value=...)[:-1] + b', "value": 1, "value": "x"}',
        Q,
        "duplicate_key",
    ),
    Case(
        "duplicate_key_across_lines",
        body()[:-1] + b',\n  "battery_level": 30}',
        Q,
        "duplicate_key",
    ),
    # -- keys compare as parsed: an escape spells the same key ---------------------------------
    Case("duplicate_key_escaped", body()[:-1] + b', "val\\u0075e": "x"}', Q, "duplicate_key"),
    Case(
        "duplicate_key_escaped_first",
        b'{"\\u0076alue": 9.5, ' + body()[1:],
        Q,
        "duplicate_key",
    ),
    Case(
        "escaped_key_once",
        body(value=...)[:-1] + b', "val\\u0075e": 2.5}',
        "raw",
        expect={"value": 2.5},
    ),
    Case(
        "escaped_keys_nested_and_unconfigured",
        body(metadata=...)[:-1] + b', "metadata": {"val\\u0075e": 1, "value": 2}, "caf\\u00e9": 1}',
        "raw",
        expect={"value": 1.5, "metadata": '{"value":1,"value":2}'},
    ),
    # Keys we do not keep change nothing in raw when repeated; a configured name inside a
    # string value is not a key.
    Case(
        "duplicate_unconfigured_key",
        body()[:-1] + b', "note": "value", "x": 1, "x": 2}',
        "raw",
        expect={"value": 1.5},
    ),
    Case(
        "configured_name_in_strings",
        body(note='"value": 2, "device_id": "other"', tag="value"),
        "raw",
        expect={"value": 1.5, "device_id": "dev-1"},
    ),
    # -- strict JSON: what DuckDB's parser forgives ---------------------------------------------
    Case("trailing_comma_object", body()[:-1] + b",}", Q, "malformed_json"),
    Case("trailing_comma_space", body()[:-1] + b", \n }", Q, "malformed_json"),
    Case(
        "trailing_comma_nested_array",
        body(metadata=...)[:-1] + b', "metadata": {"tags": [1, 2,]}}',
        Q,
        "malformed_json",
    ),
    Case("nan_in_unconfigured_field", body()[:-1] + b', "extra": NaN}', Q, "malformed_json"),
    Case(
        "lowercase_nan_in_json_field",
        body(metadata=...)[:-1] + b', "metadata": {"x": nan}}',
        Q,
        "malformed_json",
    ),
    Case("infinity_in_array", body()[:-1] + b', "extra": [1, -Infinity]}', Q, "malformed_json"),
    Case("inf_in_unconfigured_field", body()[:-1] + b', "extra":inf}', Q, "malformed_json"),
    Case(
        "nan_words_inside_strings",
        body(note="NaN, Infinity,} inf [nan,]", metadata=QUOTED),
        "raw",
        expect={"metadata": json.dumps(QUOTED, separators=(",", ":"))},
    ),
    # -- ISO 8601 event times we accept ---------------------------------------------------------
    Case(
        "iso_z",
        body(timestamp="2026-11-20T10:05:00Z"),
        "raw",
        expect={"event_time": _at("2026-11-20T10:05:00+00:00")},
    ),
    Case(
        "iso_z_fraction",
        body(timestamp="2026-11-20T10:05:00.123456Z"),
        "raw",
        expect={"event_time": _at("2026-11-20T10:05:00.123456+00:00")},
    ),
    Case(
        "iso_offset",
        body(timestamp="2026-11-20T12:05:00+02:00"),
        "raw",
        expect={"event_time": _at("2026-11-20T10:05:00+00:00")},
    ),
    Case(
        "iso_offset_fraction",
        body(timestamp="2026-11-20T05:05:00.5-05:00"),
        "raw",
        expect={"event_time": _at("2026-11-20T10:05:00.5+00:00")},
    ),
    Case(
        "iso_nanoseconds",
        body(timestamp="2026-11-20T10:05:00.123456789Z"),
        "raw",
        expect={"event_time": _at("2026-11-20T10:05:00.123456+00:00")},
    ),
    Case(
        "iso_space_separator",
        body(timestamp="2026-11-20 10:05:00Z"),
        "raw",
        expect={"event_time": _at("2026-11-20T10:05:00+00:00")},
    ),
    # -- event times we do not accept -----------------------------------------------------------
    Case(
        "iso_no_offset",
        body(timestamp="2026-11-20T10:05:00"),
        Q,
        "invalid_event_time",
    ),
    Case(
        "iso_date_only",
        body(timestamp="2026-11-20"),
        Q,
        "invalid_event_time",
    ),
    Case("day_month_year", body(timestamp="20/11/2026 10:05"), Q, "invalid_event_time"),
    Case("rfc2822", body(timestamp="Fri, 20 Nov 2026 10:05:00 GMT"), Q, "invalid_event_time"),
    Case("words", body(timestamp="yesterday"), Q, "invalid_event_time"),
    Case("empty_time", body(timestamp=""), Q, "invalid_event_time"),
    Case("impossible_date", body(timestamp="2026-13-40T99:00:00Z"), Q, "invalid_event_time"),
    # Offsets beyond 23:59 and hour 24 were read by DuckDB and landed hours or a day off.
    Case("offset_99_99", body(timestamp="2026-11-20T10:05:00+99:99"), Q, "invalid_event_time"),
    Case("offset_24_00", body(timestamp="2026-11-20T10:05:00+24:00"), Q, "invalid_event_time"),
    Case("offset_minutes_60", body(timestamp="2026-11-20T10:05:00+05:60"), Q, "invalid_event_time"),
    Case("hour_24", body(timestamp="2026-11-20T24:00:00Z"), Q, "invalid_event_time"),
    Case("leap_second", body(timestamp="2026-11-20T10:05:60Z"), Q, "invalid_event_time"),
    Case(
        "offset_compact",
        body(timestamp="2026-11-20T15:35:00+0530"),
        "raw",
        expect={"event_time": _at("2026-11-20T10:05:00+00:00")},
    ),
    Case(
        "offset_minus_zero",
        body(timestamp="2026-11-20T10:05:00-00:00"),
        "raw",
        expect={"event_time": _at("2026-11-20T10:05:00+00:00")},
    ),
    Case("compact_iso", body(timestamp="20261120T100500Z"), Q, "invalid_event_time"),
    Case("epoch_in_iso_field", body(timestamp=1795168800), Q, "wrong_type", "timestamp"),
    Case("far_future", body(timestamp="2999-01-01T00:00:00Z"), Q, "event_time_in_future"),
    Case("year_9999", body(timestamp="9999-12-31T23:59:59Z"), Q, "event_time_in_future"),
    # Five-digit and signed years are not the ISO 8601 form we accept.
    Case("year_10000", body(timestamp="10000-01-01T00:00:00Z"), Q, "invalid_event_time"),
    Case("far_past", body(timestamp="1970-01-01T00:00:00Z"), Q, "event_time_before_start"),
    Case("before_year_1", body(timestamp="-0001-01-01T00:00:00Z"), Q, "invalid_event_time"),
    # -- times without a zone, where the topic names the zone (Europe/Berlin, UTC+1 in November)
    Case(
        "local_isoformat",
        body(timestamp="2026-11-20T11:05:00"),
        "raw",
        topic=LOCAL,
        expect={"event_time": EVENT_AT},
    ),
    Case(
        "local_spark_millis",
        body(timestamp="2026-11-20 11:05:00.123"),
        "raw",
        topic=LOCAL,
        expect={"event_time": EVENT_AT + timedelta(milliseconds=123)},
    ),
    Case(
        "local_no_seconds",
        body(timestamp="2026-11-20T11:05"),
        "raw",
        topic=LOCAL,
        expect={"event_time": EVENT_AT},
    ),
    Case(
        "local_topic_zone_given",
        body(timestamp="2026-11-20T10:05:00Z"),
        "raw",
        topic=LOCAL,
        expect={"event_time": EVENT_AT},
    ),
    # 02:30 happened twice on 2026-10-25 in Berlin, and never on 2026-03-29.
    Case(
        "local_ambiguous",
        body(timestamp="2026-10-25T02:30:00"),
        Q,
        "invalid_event_time",
        "ambiguous_local_time",
        topic=LOCAL,
    ),
    Case(
        "local_nonexistent",
        body(timestamp="2026-03-29T02:30:00"),
        Q,
        "invalid_event_time",
        "nonexistent_local_time",
        topic=LOCAL,
    ),
    Case("local_date_only", body(timestamp="2026-11-20"), Q, "invalid_event_time", topic=LOCAL),
    Case(
        "local_impossible_date",
        body(timestamp="2026-02-30T10:00:00"),
        Q,
        "invalid_event_time",
        topic=LOCAL,
    ),
    # -- epoch event times ----------------------------------------------------------------------
    Case(
        "epoch_s_int",
        epoch(int(EPOCH_S_VALUE)),
        "raw",
        topic=EPOCH_S,
        expect={"event_time": EVENT_AT},
    ),
    Case(
        "epoch_s_float",
        epoch(EPOCH_S_VALUE + 0.25),
        "raw",
        topic=EPOCH_S,
        expect={"event_time": EVENT_AT + timedelta(milliseconds=250)},
    ),
    Case(
        "epoch_s_given_ms",
        epoch(int(EPOCH_S_VALUE * 1000)),
        Q,
        "event_time_in_future",
        topic=EPOCH_S,
    ),
    Case("epoch_s_negative", epoch(-1.5), Q, "event_time_before_start", topic=EPOCH_S),
    Case("epoch_s_as_string", epoch(str(EPOCH_S_VALUE)), Q, "wrong_type", "ts", topic=EPOCH_S),
    Case("epoch_s_huge", epoch(1e300), Q, "invalid_event_time", topic=EPOCH_S),
    Case(
        "epoch_ms_int",
        epoch(int(EPOCH_S_VALUE * 1000) + 7),
        "raw",
        topic=EPOCH_MS,
        expect={"event_time": EVENT_AT + timedelta(milliseconds=7)},
    ),
    Case(
        "epoch_ms_float", epoch(EPOCH_S_VALUE * 1000 + 0.5), Q, "wrong_type", "ts", topic=EPOCH_MS
    ),
    Case(
        "epoch_ms_given_s", epoch(int(EPOCH_S_VALUE)), Q, "event_time_before_start", topic=EPOCH_MS
    ),
    Case(
        "epoch_ms_huge", epoch(9_000_000_000_000_000_000), Q, "invalid_event_time", topic=EPOCH_MS
    ),
    # -- size and shape -------------------------------------------------------------------------
    Case("value_too_large", VALUE_TOO_LARGE, Q, "value_too_large"),
    Case("value_large_but_allowed", VALUE_LARGE_OK, "raw"),
    Case(
        "deeply_nested_metadata",
        body(metadata=...)[:-1] + b', "metadata": ' + NESTED + b"}",
        "raw",
        expect={"metadata": NESTED.decode()},
    ),
    # -- the same message delivered twice: both kept, as distinct offsets ------------------------
    Case(
        "duplicate_delivery",
        DUPLICATE,
        "raw",
        expect={"device_id": "dev-dup", "value": 7.25},
        copies=2,
    ),
    # -- hostile device ids are data: kept verbatim, never part of a path or statement ----------
    *(
        Case(f"device_id_{name}", body(device_id=device), "raw", expect={"device_id": device})
        for name, device in HOSTILE_DEVICE_IDS.items()
    ),
]
