"""How a record's event time is read: the SQL expressions validate.sql runs, per time format.

ISO-8601 times are matched whole against a strict pattern before DuckDB parses them, because
DuckDB alone is too forgiving: it reads offset `+99:99` as 99 hours 99 minutes, `24:00` as the
next midnight, and a TIMESTAMP cast silently drops an offset. Hours are 00-23, minutes and
seconds 00-59, offsets at most 23:59 (RFC 3339, what Python's datetime holds).

A time without a zone is refused unless the topic names the zone it was written in
(`event_time.timezone`). In a zone with daylight saving time, a local time can name no instant
(the skipped hour in spring) or two (the repeated hour in autumn); both are quarantined as
`invalid_event_time`, detail `nonexistent_local_time` / `ambiguous_local_time`, rather than
guessed, since a guess puts the record an hour off without a trace. `local_time.sql` finds the
instants of every local time in bulk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aggregator_assets.config.models import EventTimeSpec

LOCAL_TIME_SQL = (Path(__file__).parent / "local_time.sql").read_text()
_DATE_TIME = r"\d{4}-\d{2}-\d{2}[T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?"
_ZONE = r"([Zz]|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)"
ISO8601_WITH_ZONE = _DATE_TIME + _ZONE
ISO8601_WITHOUT_ZONE = _DATE_TIME
_UTC_NAMES = ("UTC", "Etc/UTC")


@dataclass(frozen=True)
class EventTimeSql:
    """Expressions over the time column (`local_instants` first, in its own CTE)."""

    local_instants: str = "NULL"  # TIMESTAMPTZ[]: the instants a zone-less time can mean
    instant: str = "NULL"  # TIMESTAMPTZ, NULL when unreadable
    detail: str = "NULL"  # why an unreadable time is unreadable, when there is more to say
    params: dict[str, object] = field(default_factory=dict)


def event_time_sql(spec: EventTimeSpec, column: str) -> EventTimeSql:
    """The expressions reading `column` (a quoted identifier) as `spec` says."""
    if spec.format == "epoch_s":
        return EventTimeSql(
            instant=f"try(make_timestamp(CAST(round({column} * 1e6) AS BIGINT))::TIMESTAMPTZ)"
        )
    if spec.format == "epoch_ms":
        return EventTimeSql(
            instant=f"try(make_timestamp(CAST({column} AS BIGINT) * 1000)::TIMESTAMPTZ)"
        )
    zoned = (
        f"CASE WHEN regexp_full_match({column}, $iso8601_zoned)"
        f" THEN try_cast({column} AS TIMESTAMPTZ) END"
    )
    params: dict[str, object] = {"iso8601_zoned": ISO8601_WITH_ZONE}
    if spec.timezone is None:
        return EventTimeSql(instant=zoned, params=params)
    params["iso8601_local"] = ISO8601_WITHOUT_ZONE
    local = f"try_cast({column} AS TIMESTAMP)"
    if spec.timezone in _UTC_NAMES:
        instants = f"[CAST({local} AS TIMESTAMPTZ)]"
    else:
        params["timezone"] = spec.timezone
        instants = f"local_instants({local}, $timezone)"
    return EventTimeSql(
        local_instants=f"CASE WHEN regexp_full_match({column}, $iso8601_local) THEN {instants} END",
        instant=(
            f"coalesce({zoned}, CASE WHEN len(__local_instants) = 1 THEN __local_instants[1] END)"
        ),
        detail=(
            "CASE len(__local_instants) WHEN 0 THEN 'nonexistent_local_time'"
            " WHEN 2 THEN 'ambiguous_local_time' END"
        ),
        params=params,
    )
