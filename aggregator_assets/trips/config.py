"""Trip settings and the vehicle teams' `aggregations.json`, validated once at load time.

The JSON format is theirs and is accepted unchanged, so a team can point us at the file their
local script already uses. Our own settings (gap, lookahead, source topic, external lake) live
under `trips:` in the pipeline YAML; `aggregations` there is either a path to the JSON file
(relative to the YAML's folder) or the same structure inline.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aggregator_assets.config import ConfigError, PipelineConfig, parse_duration

Aggregation = Literal["avg", "max", "min", "sum", "median", "stdev", "first", "last", "count"]
AGGREGATIONS: tuple[str, ...] = Aggregation.__args__
# Columns a source must provide besides the signals.
SAMPLE_KEY_COLUMNS = ("device_id", "message", "t")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: object) -> object:
    """Their files sometimes write a single signal as a bare string; accept it as a list."""
    return [value] if isinstance(value, str) else value


class TripIdentifier(_Strict):
    """The message whose samples define when a vehicle is on a trip."""

    message: str = Field(min_length=1)
    signal: list[str] = Field(min_length=1)

    _listify = field_validator("signal", mode="before")(_as_list)


class AggregationSpec(_Strict):
    message: str = Field(min_length=1)
    signal: list[str] = Field(min_length=1)
    aggregation: Aggregation

    _listify = field_validator("signal", mode="before")(_as_list)


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
    """The `trips:` section of the pipeline YAML."""

    source_topic: str = "vehicle-can"
    aggregations: AggregationsConfig
    max_gap: str = "10m"
    lookahead: str = "6h"
    default_cluster: str | None = None
    external_lake_url: str | None = None
    external_lake_prefix: str = "vehicle_data_lake"
    duckdb_memory_limit: str = "1GB"
    duckdb_threads: int | None = Field(default=None, ge=1)

    @field_validator("max_gap", "lookahead")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _sane(self) -> TripsConfig:
        if not timedelta(seconds=1) <= self.max_gap_delta <= timedelta(days=1):
            raise ValueError("max_gap: must be between 1s and 1d")
        if not timedelta(0) <= self.lookahead_delta <= timedelta(days=7):
            raise ValueError("lookahead: must be between 0s and 7d")
        if self.default_cluster and self.default_cluster not in self.aggregations.clusters:
            raise ValueError(f"default_cluster: {self.default_cluster!r} is not a defined cluster")
        return self

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


def _key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _config_error(exc: ValidationError, prefix: str, source: str) -> ConfigError:
    problems = [f"  {prefix}{_key_path(e['loc'])}: {e['msg']}" for e in exc.errors()]
    return ConfigError(f"invalid trips config {source}:\n" + "\n".join(problems))


def parse_aggregations(data: object, source: str = "<aggregations>") -> AggregationsConfig:
    try:
        return AggregationsConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, "", source) from None


def load_aggregations(path: str | Path) -> AggregationsConfig:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read aggregations file {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"aggregations file {path} is not valid JSON: {exc}") from None
    return parse_aggregations(data, str(path))


def parse_trips_config(
    pipeline: PipelineConfig, base_dir: Path, source: str = "<pipeline>"
) -> TripsConfig | None:
    """Validate `pipeline.trips`; None when the section is absent (no trip assets)."""
    if pipeline.trips is None:
        return None
    section = dict(pipeline.trips)
    aggregations = section.get("aggregations")
    if isinstance(aggregations, str):
        path = Path(aggregations)
        section["aggregations"] = load_aggregations(path if path.is_absolute() else base_dir / path)
    try:
        trips = TripsConfig.model_validate(section)
    except ValidationError as exc:
        raise _config_error(exc, "trips.", source) from None
    _check_topic(trips, pipeline, source)
    return trips


def _check_topic(trips: TripsConfig, pipeline: PipelineConfig, source: str) -> None:
    try:
        topic = pipeline.topic(trips.source_topic)
    except KeyError:
        raise ConfigError(
            f"invalid trips config {source}:\n  trips.source_topic: no topic named "
            f"{trips.source_topic!r}"
        ) from None
    needed = [*SAMPLE_KEY_COLUMNS, *trips.aggregations.signals()]
    missing = [name for name in needed if name not in topic.fields]
    if missing:
        raise ConfigError(
            f"invalid trips config {source}:\n  trips.aggregations: topic {topic.name!r} has no "
            f"field(s) {missing}"
        )
