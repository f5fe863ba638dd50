"""Typed pipeline configuration: what each topic looks like and what to build from it.

Everything a user tunes per topic lives here, validated once at load time so that a typo fails
with the offending key named instead of surfacing as a broken run hours later.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from aggregator_assets.config import names
from aggregator_assets.config.window_naming import (
    NAMINGS,
    WindowColumn,
    WindowNaming,
    WindowNamingName,
    window_columns,
)

FieldType = Literal["string", "float", "int", "bool", "json"]
NUMERIC_TYPES = ("float", "int")
TimeFormat = Literal["iso8601", "epoch_s", "epoch_ms"]
ComparisonOp = Literal["<", "<=", ">", ">=", "==", "!="]

_DURATION_RE = re.compile(r"(\d+) *(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_ZONE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*")


def parse_duration(text: str | int | float) -> timedelta:
    """Parse '500ms', '10s', '5m', '1h', '2d' (or a number of seconds) into a timedelta."""
    if isinstance(text, int | float):
        return timedelta(seconds=text)
    match = _DURATION_RE.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like '10s', '5m', '1h' or '2d'")
    return timedelta(seconds=int(match.group(1)) * _DURATION_UNITS[match.group(2)])


def asset_name(text: str) -> str:
    """A Dagster-safe name for a topic or window: 'iot-events' -> 'iot_events'."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """One field of a message value, with the validation a record must pass to reach raw.

    `aggregate` decides whether a numeric field gets window statistics; unset, every numeric
    field does except the event-time field (its statistics are timestamps' statistics).
    """

    type: FieldType
    required: bool = False
    min: float | None = None
    max: float | None = None
    aggregate: bool | None = None

    @model_validator(mode="after")
    def _numbers_only(self) -> FieldSpec:
        if (self.min is not None or self.max is not None) and self.type not in NUMERIC_TYPES:
            raise ValueError(f"min/max only apply to float or int fields, not {self.type}")
        if self.aggregate and self.type not in NUMERIC_TYPES:
            raise ValueError(
                f"aggregate: only float or int fields have statistics, not {self.type}"
            )
        return self


class Condition(_Strict):
    """A comparison of one numeric field with a constant, e.g. battery_level >= 20."""

    field: str
    op: ComparisonOp
    value: float


class EventTimeSpec(_Strict):
    """Where a record's event time is, and how to read it.

    `timezone` (an IANA zone such as `Europe/Berlin`, or `UTC`) is the zone of ISO-8601 times
    written without one, as Python's `isoformat()` and Spark write them; times with a zone or
    offset keep their own. Unset, a time without a zone is refused (`invalid_event_time`).
    """

    field: str
    format: TimeFormat = "iso8601"
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str | None) -> str | None:
        if zone is None:
            return None
        try:
            if not _ZONE_RE.fullmatch(zone):
                raise ValueError(zone)
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{zone!r} is not a time zone name such as 'UTC' or 'Europe/Berlin'"
            ) from None
        return zone

    @model_validator(mode="after")
    def _zone_for_iso_only(self) -> EventTimeSpec:
        if self.timezone is not None and self.format != "iso8601":
            raise ValueError("timezone: epoch times are UTC by definition; use it with iso8601")
        return self


class WindowSpec(_Strict):
    """A tumbling window size; sizes must divide an hour so windows never straddle partitions."""

    size: str

    @field_validator("size")
    @classmethod
    def _divides_hour(cls, size: str) -> str:
        seconds = parse_duration(size).total_seconds()
        if seconds <= 0 or seconds != int(seconds) or 3600 % int(seconds) != 0:
            raise ValueError(f"window size {size!r} must be a whole number of seconds dividing 1h")
        return size

    @property
    def seconds(self) -> int:
        return int(parse_duration(self.size).total_seconds())

    @property
    def name(self) -> str:
        return self.size.replace(" ", "")


class PublishWindows(_Strict):
    """Closed windows of one of the topic's sizes, produced once each to a Kafka topic."""

    topic: str
    size: str

    @field_validator("topic")
    @classmethod
    def _kafka_topic_name(cls, name: str) -> str:
        return names.check_topic_name(name)

    @field_validator("size")
    @classmethod
    def _window_size(cls, size: str) -> str:
        return WindowSpec(size=size).size

    @property
    def seconds(self) -> int:
        return WindowSpec(size=self.size).seconds


class TopicConfig(_Strict):
    """A Kafka topic and everything built from it: raw hours, window statistics, trips."""

    name: str
    description: str = ""
    value_format: Literal["json", "avro"] = "json"
    event_time: EventTimeSpec
    key_field: str
    fields: dict[str, FieldSpec]
    dimensions: list[str] = Field(default_factory=list)
    flags: dict[str, Condition] = Field(default_factory=dict)
    allowed_lateness: str = "5m"
    max_future_skew: str = "1h"
    windows: list[WindowSpec] = Field(default_factory=list)
    window_naming: WindowNamingName = "default"
    domain_counts: dict[str, Condition] = Field(default_factory=dict)
    publish_windows: PublishWindows | None = None

    @field_validator("name")
    @classmethod
    def _kafka_topic_name(cls, name: str) -> str:
        return names.check_topic_name(name)

    @field_validator("allowed_lateness", "max_future_skew")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _fields_exist(self) -> TopicConfig:
        for name in self.fields:
            names.check_column_name(f"fields.{name}", name)
        clashes = names.same_ignoring_case(self.fields)
        if clashes:
            raise ValueError(
                f"fields: {' and '.join(clashes[0])} differ only in case; DuckDB would read"
                " them as one column"
            )
        known = set(self.fields)
        refs = [("event_time.field", self.event_time.field), ("key_field", self.key_field)]
        refs += [(f"dimensions[{i}]", d) for i, d in enumerate(self.dimensions)]
        refs += [(f"flags.{k}.field", c.field) for k, c in self.flags.items()]
        refs += [(f"domain_counts.{k}.field", c.field) for k, c in self.domain_counts.items()]
        for where, ref in refs:
            if ref not in known:
                raise ValueError(f"{where}: {ref!r} is not one of the topic's fields")
        for where, conditions in (("flags", self.flags), ("domain_counts", self.domain_counts)):
            for name, cond in conditions.items():
                names.check_column_name(f"{where}.{name}", name)
                if self.fields[cond.field].type not in NUMERIC_TYPES:
                    raise ValueError(f"{where}.{name}.field: {cond.field!r} is not a number")
        time_type = self.fields[self.event_time.field].type
        if self.event_time.format == "iso8601" and time_type != "string":
            raise ValueError("event_time.field: iso8601 times need a string field")
        if self.event_time.format != "iso8601" and time_type not in NUMERIC_TYPES:
            raise ValueError("event_time.field: epoch formats need a numeric field")
        if len({w.seconds for w in self.windows}) != len(self.windows):
            raise ValueError("windows: the same size is listed twice")
        published = self.publish_windows
        if published and published.seconds not in {w.seconds for w in self.windows}:
            raise ValueError(
                f"publish_windows.size: {published.size!r} is not one of the topic's windows"
            )
        self._columns_distinct()
        return self

    def _columns_distinct(self) -> None:
        """No two raw columns, and no two window columns, share a name (ignoring case)."""
        raw = [(f, f"fields.{f}") for f in self.fields]
        raw += [(f, f"flags.{f}") for f in self.flags]
        raw += [(c, f"the pipeline's {p} column") for p, c in self.pipeline_columns.items()]
        windows = [(c.name, c.source) for c in self.window_columns]
        # A flag is no window column, but one named like a window column reads as one.
        flags = [(f, f"flags.{f}") for f in self.flags]
        flags += [(c.name, c.source) for c in self.window_columns if c.kind != "key"]
        for columns in (raw, windows, flags):
            clash = names.first_clash(columns)
            if clash:
                raise ValueError(clash)

    @property
    def asset_name(self) -> str:
        return asset_name(self.name)

    @property
    def numeric_fields(self) -> list[str]:
        return [n for n, f in self.fields.items() if f.type in NUMERIC_TYPES]

    @property
    def aggregated_fields(self) -> list[str]:
        """Numeric fields with window statistics (see FieldSpec.aggregate)."""
        return [
            n
            for n in self.numeric_fields
            if self.fields[n].aggregate
            or (self.fields[n].aggregate is None and n != self.event_time.field)
        ]

    @property
    def pipeline_columns(self) -> dict[str, str]:
        """Pipeline column -> its name in raw (prefixed where a payload field took the name)."""
        return names.pipeline_column_names(self.fields)

    @property
    def naming(self) -> WindowNaming:
        return NAMINGS[self.window_naming]

    @property
    def window_columns(self) -> list[WindowColumn]:
        """The columns of this topic's windows files, in order (see config.window_naming)."""
        keys = {self.key_field: "key_field"}
        for i, dimension in enumerate(self.dimensions):
            keys.setdefault(dimension, f"dimensions[{i}]")
        return window_columns(
            self.naming, list(keys.items()), self.aggregated_fields, list(self.domain_counts)
        )

    @property
    def lateness(self) -> timedelta:
        return parse_duration(self.allowed_lateness)

    @property
    def future_skew(self) -> timedelta:
        return parse_duration(self.max_future_skew)


class LandingSettings(_Strict):
    """How long the landing log (`_landing/`) keeps what the sealed hour files already hold.

    `retention`: the landed pieces of an hour are removed once the hour's raw and quarantine
    files were built through them and the hour ended this long ago; the files are then their
    record (late records for the hour land as new pieces, added to the file when it is rebuilt).
    Pieces of hours not yet sealed are never removed. `gc_grace`: orphan pieces of crashed or
    duplicated landings and leftovers in `_staging/` are removed once this old; it must exceed
    the longest a slice may take to write (15 minutes, see `ingest/landing.py`).
    """

    retention: str = "3d"
    gc_grace: str = "6h"

    @field_validator("retention", "gc_grace")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("gc_grace")
    @classmethod
    def _longer_than_a_slice_write(cls, value: str) -> str:
        if parse_duration(value) < timedelta(hours=1):
            raise ValueError("gc_grace must be at least 1h: younger pieces may still be landing")
        return value

    @property
    def retention_period(self) -> timedelta:
        return parse_duration(self.retention)

    @property
    def grace_period(self) -> timedelta:
        return parse_duration(self.gc_grace)


class PipelineConfig(_Strict):
    """The whole pipeline: where hourly partitions start and which topics to ingest."""

    partitions_start: datetime
    topics: list[TopicConfig]
    # The `trips:` section, validated into an `aggregator_assets.trips.TripsConfig` (see _trips).
    trips: Any = None
    landing: LandingSettings = Field(default_factory=LandingSettings)
    # Topics sharing one raw op, windows op and topic sensor, hence runs (assets/topics.py).
    topic_batch_size: int = Field(default=50, ge=1)

    @field_validator("partitions_start")
    @classmethod
    def _utc_hour(cls, value: datetime) -> datetime:
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
        if value.minute or value.second or value.microsecond:
            raise ValueError("partitions_start must be on a whole hour")
        return value.astimezone(timezone.utc)

    @field_validator("trips")
    @classmethod
    def _trips(cls, section: Any, info: ValidationInfo) -> Any:
        """The trips module validates its own section, against the topics validated before it,
        so that config-check and loading run the same checks. It builds on this module, hence
        the import here rather than at the top."""
        from aggregator_assets.trips.config import parse_trips_section

        if section is None:
            return None
        return parse_trips_section(section, info.data.get("topics"), info.context)

    @model_validator(mode="after")
    def _unique_topics(self) -> PipelineConfig:
        assets = [t.asset_name for t in self.topics]
        dupes = {n for n in assets if assets.count(n) > 1}
        if dupes:
            raise ValueError(f"topics: names map to the same asset name: {sorted(dupes)}")
        clashes = names.same_ignoring_case(assets)
        if clashes:
            raise ValueError(
                f"topics: {' and '.join(clashes[0])} differ only in case; DuckDB view names"
                " ignore case, so their raw_/windows_ views would be one"
            )
        return self

    def topic(self, name: str) -> TopicConfig:
        for topic in self.topics:
            if topic.name == name or topic.asset_name == name:
                return topic
        raise KeyError(f"no topic named {name!r} in the pipeline config")
