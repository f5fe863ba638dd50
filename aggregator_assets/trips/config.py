"""Trip settings and the vehicle teams' `aggregations.json`, validated once at load time.

The JSON format is theirs and is accepted unchanged, so a team can point us at the file their
local script already uses. Our own settings (gap, lookahead, source topic, external lake, trip
windows) live under `trips:` in the pipeline YAML; `aggregations` there is either a path to the
JSON file (relative to the YAML's folder) or the same structure inline.

`PipelineConfig` validates its `trips:` section with `parse_trips_section` while the YAML is
loaded, so `aggregator-assets config-check` and loading the code location run the very same
checks, and errors name the key (`trips.max_gap: ...`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from aggregator_assets.config import ConfigError, TopicConfig, parse_duration

Aggregation = Literal["avg", "max", "min", "sum", "median", "stdev", "first", "last", "count"]
AGGREGATIONS: tuple[str, ...] = Aggregation.__args__
# The aggregations the legacy script computes; the others are extra rows in legacy mode.
LEGACY_AGGREGATIONS = ("avg", "max", "min", "sum")
# How trips and their windows are cut (README "Trip windows"): "gaps" is ours, "legacy" is the
# vehicle teams' script, row for row.
TripWindows = Literal["gaps", "legacy"]
# Columns a source must provide besides the signals.
SAMPLE_KEY_COLUMNS = ("device_id", "message", "t")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: object) -> object:
    """Their files sometimes write a single signal as a bare string; accept it as a list."""
    return [value] if isinstance(value, str) else value


def _folder_name(name: str) -> str:
    """A message name is one folder of the external lake: refuse anything that could climb out
    of it or name another place (`..`, `/abs`, `a/b`, `a\\b`, control characters)."""
    if name in {".", ".."} or "/" in name or "\\" in name or not name.isprintable():
        raise ValueError(
            f"{name!r} cannot be a folder of the vehicle lake: no '/', '\\', '.', '..' or "
            "control characters"
        )
    return name


class TripIdentifier(_Strict):
    """The message whose samples define when a vehicle is on a trip."""

    message: str = Field(min_length=1)
    signal: list[str] = Field(min_length=1)

    _listify = field_validator("signal", mode="before")(_as_list)
    _folder = field_validator("message")(_folder_name)


class AggregationSpec(_Strict):
    message: str = Field(min_length=1)
    signal: list[str] = Field(min_length=1)
    aggregation: Aggregation

    _listify = field_validator("signal", mode="before")(_as_list)
    _folder = field_validator("message")(_folder_name)


class ClusterDetails(_Strict):
    trip_identifier: TripIdentifier
    aggregations: list[AggregationSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_duplicate_outputs(self) -> ClusterDetails:
        seen: set[tuple[str, str, str]] = set()
        for i, spec in enumerate(self.aggregations):
            for signal in spec.signal:
                key = (spec.message, signal, spec.aggregation)
                if key in seen:
                    raise ValueError(f"aggregations[{i}]: {key} is listed twice")
                seen.add(key)
        return self


class DeviceCluster(_Strict):
    devices: list[str]
    cluster: str = Field(min_length=1)


class AggregationsConfig(_Strict):
    """The `aggregations.json` structure: devices -> cluster -> trip identifier + aggregations."""

    device_clusters: list[DeviceCluster]
    cluster_details: list[dict[str, ClusterDetails]] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> AggregationsConfig:
        defined: set[str] = set()
        for i, entry in enumerate(self.cluster_details):
            for name in entry:
                if name in defined:
                    raise ValueError(f"cluster_details[{i}].{name}: cluster defined twice")
                defined.add(name)
        owner: dict[str, str] = {}
        for i, group in enumerate(self.device_clusters):
            if group.cluster not in defined:
                raise ValueError(
                    f"device_clusters[{i}].cluster: {group.cluster!r} is not in cluster_details"
                )
            for device in group.devices:
                if owner.get(device, group.cluster) != group.cluster:
                    raise ValueError(
                        f"device_clusters[{i}].devices: {device!r} is already in cluster "
                        f"{owner[device]!r}"
                    )
                owner[device] = group.cluster
        return self

    @property
    def clusters(self) -> dict[str, ClusterDetails]:
        return {name: details for entry in self.cluster_details for name, details in entry.items()}

    @property
    def device_cluster(self) -> dict[str, str]:
        return {d: g.cluster for g in self.device_clusters for d in g.devices}

    def signals(self) -> list[str]:
        """Every signal column any cluster reads, in first-mention order."""
        names: dict[str, None] = {}
        for details in self.clusters.values():
            names.update(dict.fromkeys(details.trip_identifier.signal))
            for spec in details.aggregations:
                names.update(dict.fromkeys(spec.signal))
        return list(names)

    def messages(self) -> list[str]:
        names: dict[str, None] = {}
        for details in self.clusters.values():
            names[details.trip_identifier.message] = None
            names.update(dict.fromkeys(s.message for s in details.aggregations))
        return list(names)


class TripsConfig(_Strict):
    """The `trips:` section of the pipeline YAML.

    Validated with the pipeline's topics and the config file's folder in the validation context
    (`parse_trips_section`); built directly (tests, benchmarks) the topic checks are skipped.
    """

    # Checked against the topics even when left at its default.
    source_topic: str = Field("vehicle-can", validate_default=True)
    aggregations: AggregationsConfig
    trip_windows: TripWindows = "gaps"
    legacy_output: bool = False
    max_gap: str = "10m"
    lookahead: str = "6h"
    default_cluster: str | None = None
    external_lake_url: str | None = None
    external_lake_prefix: str = "vehicle_data_lake"
    duckdb_memory_limit: str = "1GB"
    duckdb_threads: int | None = Field(default=None, ge=1)

    @field_validator("source_topic")
    @classmethod
    def _known_topic(cls, name: str, info: ValidationInfo) -> str:
        topic = _source_topic(name, info)
        if topic is not None:
            missing = [f for f in SAMPLE_KEY_COLUMNS if f not in topic.fields]
            if missing:
                raise ValueError(f"topic {topic.name!r} has no field(s) {missing}")
            sample_time_column(topic)
        return name

    @field_validator("aggregations", mode="before")
    @classmethod
    def _from_file(cls, value: Any, info: ValidationInfo) -> Any:
        """A path (relative to the config file's folder) to the teams' JSON file."""
        if not isinstance(value, str | Path):
            return value
        path = Path(value)
        if not path.is_absolute():
            path = Path((info.context or {}).get("base_dir") or ".") / path
        if not path.is_file():
            raise ValueError(
                f"file {path} not found (a relative path is read from the config file's folder)"
            )
        try:
            return load_aggregations(path)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("aggregations")
    @classmethod
    def _signals_are_fields(cls, aggs: AggregationsConfig, info: ValidationInfo) -> Any:
        topic = _source_topic(info.data.get("source_topic"), info)
        if topic is not None:
            missing = [name for name in aggs.signals() if name not in topic.fields]
            if missing:
                raise ValueError(f"topic {topic.name!r} has no field(s) {missing}")
        return aggs

    @field_validator("legacy_output")
    @classmethod
    def _legacy_only(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("trip_windows") != "legacy":
            raise ValueError("the legacy output path needs trip_windows: legacy")
        return value

    @field_validator("max_gap")
    @classmethod
    def _gap(cls, value: str) -> str:
        if not timedelta(seconds=1) <= parse_duration(value) <= timedelta(days=1):
            raise ValueError("must be between 1s and 1d")
        return value

    @field_validator("lookahead")
    @classmethod
    def _lookahead(cls, value: str) -> str:
        if not timedelta(0) <= parse_duration(value) <= timedelta(days=7):
            raise ValueError("must be between 0s and 7d")
        return value

    @field_validator("default_cluster")
    @classmethod
    def _defined_cluster(cls, value: str | None, info: ValidationInfo) -> str | None:
        aggs = info.data.get("aggregations")
        if value and aggs is not None and value not in aggs.clusters:
            raise ValueError(f"{value!r} is not a defined cluster")
        return value

    @field_validator("external_lake_prefix")
    @classmethod
    def _inside_lake(cls, value: str) -> str:
        for part in value.split("/"):
            _folder_name(part)
            if not part:
                raise ValueError(f"{value!r} must be a relative folder inside the lake")
        return value

    @property
    def legacy(self) -> bool:
        return self.trip_windows == "legacy"

    @property
    def max_gap_delta(self) -> timedelta:
        return parse_duration(self.max_gap)

    @property
    def lookahead_delta(self) -> timedelta:
        return parse_duration(self.lookahead)

    @property
    def lookahead_days(self) -> int:
        """Whole days the lookahead reaches into (Dagster offsets a daily asset in days)."""
        return math.ceil(self.lookahead_delta / timedelta(days=1))


def _source_topic(name: object, info: ValidationInfo) -> TopicConfig | None:
    """The configured topic `name`, or None when there are no topics to check against."""
    topics = (info.context or {}).get("topics")
    if topics is None or not isinstance(name, str):
        return None
    for topic in topics:
        if name in (topic.name, topic.asset_name):
            return topic
    raise ValueError(f"no topic named {name!r}")


def sample_time_column(topic: TopicConfig) -> str:
    """The raw column holding a sample's time as the trips read it: `t` in epoch seconds, or
    the pipeline's parsed `event_time` when `t` is the topic's event time in another format
    (epoch milliseconds, ISO-8601 text), so trips never read milliseconds as seconds."""
    if topic.event_time.field == "t" and topic.event_time.format != "epoch_s":
        return topic.pipeline_columns["event_time"]
    if topic.fields["t"].type in ("float", "int"):
        return "t"
    raise ValueError(
        f"field 't' of topic {topic.name!r} is {topic.fields['t'].type}: trips need t as epoch "
        "seconds (float or int) or as the topic's event time"
    )


def _key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _config_error(exc: ValidationError, source: str) -> ConfigError:
    problems = [f"  {_key_path(e['loc'])}: {e['msg']}" for e in exc.errors()]
    return ConfigError(f"invalid aggregations {source}:\n" + "\n".join(problems))


def parse_aggregations(data: object, source: str = "<aggregations>") -> AggregationsConfig:
    try:
        return AggregationsConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, source) from None


def load_aggregations(path: str | Path) -> AggregationsConfig:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read aggregations file {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"aggregations file {path} is not valid JSON: {exc}") from None
    return parse_aggregations(data, f"file {path}")


def parse_trips_section(
    section: object, topics: Sequence[TopicConfig] | None, context: dict | None = None
) -> TripsConfig:
    """Validate the `trips:` section against the pipeline's topics; `context["base_dir"]` is
    where a relative `aggregations` path is read from. Run by `PipelineConfig` on load."""
    return TripsConfig.model_validate(section, context={**(context or {}), "topics": topics})
