"""Typed pipeline configuration: what each topic looks like and what to build from it.

Everything a user tunes per topic lives here, validated once at load time so that a typo fails
with the offending key named instead of surfacing as a broken run hours later.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

FieldType = Literal["string", "float", "int", "bool", "json"]
NUMERIC_TYPES = ("float", "int")
TimeFormat = Literal["iso8601", "epoch_s", "epoch_ms"]
ComparisonOp = Literal["<", "<=", ">", ">=", "==", "!="]

# Columns the pipeline adds to every raw table; a topic field may not shadow them.
RESERVED_COLUMNS = frozenset(
    {"event_time", "kafka_partition", "kafka_offset", "kafka_timestamp", "is_late"}
)
_KAFKA_TOPIC_RE = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_DURATION_RE = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d)\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | int | float) -> timedelta:
    """Parse '500ms', '10s', '5m', '1h', '2d' (or a number of seconds) into a timedelta."""
    if isinstance(text, int | float):
        return timedelta(seconds=text)
    match = _DURATION_RE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like '10s', '5m', '1h' or '2d'")
    return timedelta(seconds=int(match.group(1)) * _DURATION_UNITS[match.group(2)])


def asset_name(text: str) -> str:
    """A Dagster-safe name for a topic or window: 'iot-events' -> 'iot_events'."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """One field of a message value, with the validation a record must pass to reach raw."""

    type: FieldType
    required: bool = False
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _range_only_for_numbers(self) -> FieldSpec:
        if (self.min is not None or self.max is not None) and self.type not in NUMERIC_TYPES:
            raise ValueError(f"min/max only apply to float or int fields, not {self.type}")
        return self


class Condition(_Strict):
    """A comparison of one numeric field with a constant, e.g. battery_level >= 20."""

    field: str
    op: ComparisonOp
    value: float


class EventTimeSpec(_Strict):
    field: str
    format: TimeFormat = "iso8601"


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
    domain_counts: dict[str, Condition] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _kafka_topic_name(cls, name: str) -> str:
        if not _KAFKA_TOPIC_RE.match(name) or name in {".", ".."}:
            raise ValueError(f"{name!r} is not a valid Kafka topic name ([A-Za-z0-9._-]+)")
        return name

    @field_validator("allowed_lateness", "max_future_skew")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _fields_exist(self) -> TopicConfig:
        for name in self.fields:
            if not _IDENTIFIER_RE.match(name):
                raise ValueError(f"fields.{name}: field names must be identifiers ([A-Za-z_]\\w*)")
            if name in RESERVED_COLUMNS or name.startswith("__"):
                raise ValueError(f"fields.{name}: the name is reserved for a pipeline column")
        known = set(self.fields)
        refs = [("event_time.field", self.event_time.field), ("key_field", self.key_field)]
        refs += [(f"dimensions[{i}]", d) for i, d in enumerate(self.dimensions)]
        refs += [(f"flags.{k}.field", c.field) for k, c in self.flags.items()]
        refs += [(f"domain_counts.{k}.field", c.field) for k, c in self.domain_counts.items()]
        for where, ref in refs:
            if ref not in known:
                raise ValueError(f"{where}: {ref!r} is not one of the topic's fields")
        for where, names in (("flags", self.flags), ("domain_counts", self.domain_counts)):
            for name in names:
                if not _IDENTIFIER_RE.match(name) or name in known or name in RESERVED_COLUMNS:
                    raise ValueError(f"{where}.{name}: must be a new identifier column name")
        if self.event_time.format != "iso8601" and self.fields[self.event_time.field].type not in (
            NUMERIC_TYPES
        ):
            raise ValueError("event_time.field: epoch formats need a numeric field")
        if len({w.seconds for w in self.windows}) != len(self.windows):
            raise ValueError("windows: the same size is listed twice")
        return self

    @property
    def asset_name(self) -> str:
        return asset_name(self.name)

    @property
    def numeric_fields(self) -> list[str]:
        return [n for n, f in self.fields.items() if f.type in NUMERIC_TYPES]

    @property
    def lateness(self) -> timedelta:
        return parse_duration(self.allowed_lateness)

    @property
    def future_skew(self) -> timedelta:
        return parse_duration(self.max_future_skew)


class PipelineConfig(_Strict):
    """The whole pipeline: where hourly partitions start and which topics to ingest."""

    partitions_start: datetime
    topics: list[TopicConfig]
    # The `trips:` section, validated into an `aggregator_assets.trips.TripsConfig` (see _trips).
    trips: Any = None

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
        names = [t.asset_name for t in self.topics]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"topics: names map to the same asset name: {sorted(dupes)}")
        return self

    def topic(self, name: str) -> TopicConfig:
        for topic in self.topics:
            if topic.name == name or topic.asset_name == name:
                return topic
        raise KeyError(f"no topic named {name!r} in the pipeline config")
