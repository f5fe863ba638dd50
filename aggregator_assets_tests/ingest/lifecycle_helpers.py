"""Landing and building by the functions a raw run calls, and a lake to compare against."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa

from aggregator_assets.config import PipelineConfig
from aggregator_assets.ingest.advance import advance_landing
from aggregator_assets.ingest.commits import hour_of_dir
from aggregator_assets.ingest.hours import build_hour, quarantine_hour_file, raw_hour_file
from aggregator_assets.ingest.landing import Landing
from aggregator_assets.lake import Lake
from aggregator_assets.resources import KafkaResource


def land(kafka: KafkaResource, lake: Lake, config: PipelineConfig, slice_records: int = 7):
    """What a raw run does first: land every new offset."""
    topic = config.topics[0]
    with kafka.consumer() as consumer:
        return advance_landing(
            consumer,
            Landing(lake, topic.name),
            topic,
            config.partitions_start,
            slice_records=slice_records,
        )


def build(lake: Lake, config: PipelineConfig, hours: list[datetime]) -> None:
    """What a raw run does next: rebuild each hour from the landing's cover."""
    topic = config.topics[0]
    landing = Landing(lake, topic.name)
    cover = landing.cover()
    for hour in hours:
        build_hour(lake, landing, topic, hour, cover)


def landed_hours(lake: Lake, topic: str) -> list[datetime]:
    """Every hour (raw or quarantine) the landing knows of, kept or retired pieces alike."""
    cover = Landing(lake, topic).cover()
    hours = {hour for _, hour in cover.hours()}
    hours |= {h for spans in cover.retired.spans.values() for span in spans for h in span}
    first = min(hour_of_dir(h) for h in hours)
    last = max(hour_of_dir(h) for h in hours)
    return [
        first + timedelta(hours=i) for i in range(int((last - first).total_seconds()) // 3600 + 1)
    ]


def hour_tables(lake: Lake, topic: str, hours: list[datetime]) -> dict[str, pa.Table]:
    """The rows of every hour file (schema metadata aside)."""
    out = {}
    for hour in hours:
        for path in (raw_hour_file(topic, hour), quarantine_hour_file(topic, hour)):
            if lake.exists(path):
                out[path] = lake.read_table(path).replace_schema_metadata(None)
    return out


def landing_files(lake: Lake, topic: str, folder: str) -> list[str]:
    return lake.list_files(f"_landing/{topic}/{folder}", recursive=True)


class Killed(BaseException):
    """Stands for a kill -9: raised at a lake call, it stops the operation there."""


class InterferingLake(Lake):
    """A local lake that, at its n-th call, raises Killed or runs another operation first
    (which stands for a concurrent run or pass reaching the lake at that moment)."""

    CALLS = ("list_files", "file_infos", "read_bytes", "read_table", "write_bytes")
    CALLS += ("parquet_writer", "delete_files")

    def __init__(self, url: str, at: int, action, calls: tuple[str, ...] = CALLS):
        super().__init__(url)
        self.remaining, self.action = at, action
        for name in calls:
            setattr(self, name, self._hooked(getattr(self, name)))

    def _hooked(self, call):
        def hooked(*args, **kwargs):
            self.remaining -= 1
            if self.remaining == 0:
                self.action()
            return call(*args, **kwargs)

        return hooked


def kill() -> None:
    raise Killed
