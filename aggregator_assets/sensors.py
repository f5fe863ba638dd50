"""Topic sensors: watch Kafka topics and request the raw run of every hour that has closed.

There is one sensor per topic batch (`assets/topics.py`); `plan_tick` plans one topic and
`plan_batch_tick` plans the batch: one consumer reads every topic's high watermarks, each topic
is planned in turn, and the hours wanted are grouped into one run per range of consecutive hours
for all topics wanting that range (`group_requests`), with the topics' windows in the same run.

For each topic, a tick reads the broker's high watermarks (from a real fetch response: end
offsets are not trusted) and the landing log's commit markers (small JSON files, never
Parquet), then:

- reports an `AssetObservation` on `kafka_<asset>`: end offsets, landed offsets, ingestion lag
  (offsets on the broker not yet in the lake) and the latest event time landed;
- requests `raw_<asset>` for each hour that holds landed data, is closed (hour end + allowed
  lateness <= the topic's event-time watermark) and whose hour file is missing or was built
  from fewer offsets than have since landed for it (late records). Only the footer of the hour
  file is read, for its `aggregator.landing_through` offsets;
- when the landing is behind the broker and nothing else was requested, requests the newest hour
  closed by the wall clock, because every raw run first lands all new offsets (for a first
  landing, every hour since its first record's, when that is recent).

The watermark of a partition is the largest event time landed from it; a partition that is
caught up (or empty) is idle and its watermark is now - lateness, so a quiet partition never
holds hours open. The topic's watermark is the smallest over its partitions.

Each wanted hour has a key `<topic>:<hour>:<offsets>` where the offsets are those of the landing
through which the hour's data is known; the batch cursor keeps the keys requested until their
hour is built, so the same hour is never requested twice for the same data, and late records
for it make a new key. The JSON cursor of a topic records how far the commits have been
checked, which always advances to the end of the landing, and the hours still waiting to close
or to be built (with the offsets through which their data is known), so a tick reads only new
commits, and an hour that stays unbuilt (still open, or its runs keep failing) costs one cursor
entry, never a re-read of every commit landed after it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from dagster import (
    AssetKey,
    AssetObservation,
    DagsterRunStatus,
    DefaultSensorStatus,
    MetadataValue,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from aggregator_assets.assets.topics import TopicBatch, topic_asset_key, topic_batches
from aggregator_assets.assets.windows import window_keys
from aggregator_assets.config import PipelineConfig, TopicConfig, asset_name
from aggregator_assets.partitions import HOUR_KEY_FORMAT
from aggregator_assets.resources import KafkaResource, LakeResource

if TYPE_CHECKING:
    from kafka import KafkaConsumer

    from aggregator_assets.lake import Lake

TOPIC_TAG = "aggregator/topic"  # on runs of one topic
BATCH_TAG = "aggregator/batch"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class SensorSettings:
    """Bounds of one tick: the daemon must never wait on a slow broker or a huge backlog."""

    interval_s: int = 60
    tick_budget_s: float = 40.0
    broker_timeout_s: float = 10.0
    max_requests_per_tick: int = 24
    # A topic landing for the first time whose first record (by Kafka timestamp) is at most this
    # many hours old catches up on all those hours in one ranged run (see plan_tick).
    first_catch_up_hours: int = 24


# -- broker --------------------------------------------------------------------------------


def read_high_watermarks(
    kafka: KafkaResource, topic: str, positions: dict[int, int], timeout_s: float
) -> dict[int, int]:
    """Partition -> high watermark of one topic (see `read_many_high_watermarks`)."""
    found, errors = read_many_high_watermarks(kafka, {topic: positions}, timeout_s)
    if topic in errors:
        raise errors[topic]
    return found[topic]


def read_many_high_watermarks(
    kafka: KafkaResource,
    positions: dict[str, dict[int, int]],
    timeout_s: float,
    first_times: dict[str, datetime] | None = None,
) -> tuple[dict[str, dict[int, int]], dict[str, BaseException]]:
    """Topic -> partition -> high watermark, from fetch responses at the landed positions, for
    many topics through one consumer; and topic -> the error that kept its offsets unknown.
    For a topic with no landed position yet, `first_times` gets the earliest Kafka timestamp
    of the first records fetched (a hint of where its data starts; see `plan_tick`).

    Runs on a daemon thread joined with `timeout_s`, so a broker that hangs cannot hang the
    tick; the consumer itself connects within `timeout_s` or is closed (KafkaResource), so a
    broker that never completes a handshake leaves no thread behind tick after tick. A topic
    missing on the broker fails alone; a broker that fails the consumer fails every topic.
    """
    out: dict[str, dict[int, int]] = {}
    errors: dict[str, BaseException] = {}
    failure: list[BaseException] = []
    timeout_ms = max(1_000, int(timeout_s * 1000))
    topics = ", ".join(sorted(positions)[:3]) + (", ..." if len(positions) > 3 else "")

    def work() -> None:
        try:
            with kafka.consumer(
                request_timeout_ms=timeout_ms,
                bootstrap_timeout_ms=timeout_ms,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=100,
                max_partition_fetch_bytes=16 * 1024,
                fetch_max_bytes=4 * 1024 * 1024,
                connections_max_idle_ms=max(540_000, timeout_ms + 1),
            ) as consumer:
                found = first_times if first_times is not None else {}
                _poll_high_watermarks(consumer, positions, timeout_s, out, errors, found)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=work, name=f"highwater-{topics}", daemon=True)
    thread.start()
    thread.join(timeout_s + 2)
    if thread.is_alive():
        silent = f"the broker did not answer for {topics} within {timeout_s:.0f}s"
        failure.append(TimeoutError(silent))
    if failure:
        return {}, {t: failure[0] for t in positions}
    return out, errors


def _poll_high_watermarks(
    consumer: KafkaConsumer,
    positions: dict[str, dict[int, int]],
    timeout_s: float,
    out: dict[str, dict[int, int]],
    errors: dict[str, BaseException],
    first_times: dict[str, datetime],
) -> None:
    from kafka import TopicPartition

    tps = []
    for topic in sorted(positions):
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            errors[topic] = LookupError(f"topic {topic!r} does not exist on the broker")
            continue
        tps += [TopicPartition(topic, p) for p in sorted(partitions)]
    if not tps:
        return
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, positions[tp.topic].get(tp.partition, 0))
    deadline = time.monotonic() + timeout_s
    seen = {tp for tp in tps if positions[tp.topic]}  # landed topics need no hint
    known: dict = dict.fromkeys(tps)
    while time.monotonic() < deadline:
        fetched = consumer.poll(timeout_ms=200)  # drained, so partitions with data refetch
        for tp, records in fetched.items():
            if tp not in seen and records and records[0].timestamp > 0:
                seen.add(tp)
                at = datetime.fromtimestamp(records[0].timestamp / 1000, timezone.utc)
                first_times[tp.topic] = min(first_times.get(tp.topic, at), at)
        known = {tp: consumer.highwater(tp) for tp in tps}
        if all(v is not None for v in known.values()):
            break
        # Answered partitions stop fetching: on a busy machine, decoding their records again
        # and again is what kept the rest of a batch from being answered in time.
        consumer.pause(*[tp for tp, hw in known.items() if hw is not None and tp in seen])
    # A topic is answered when every partition of it is: a busy broker that answered for part of
    # the batch in time lets those topics go on this tick.
    unanswered = {tp.topic for tp, hw in known.items() if hw is None}
    for tp, hw in known.items():
        if tp.topic in unanswered:
            message = f"no fetch response from every partition of {tp.topic} in time"
            errors.setdefault(tp.topic, TimeoutError(message))
        else:
            out.setdefault(tp.topic, {})[tp.partition] = hw


# -- planning ------------------------------------------------------------------------------


@dataclass
class TopicCursor:
    """What earlier ticks established; all commits with end <= checked[p] are accounted for."""

    checked: dict[int, int] = field(default_factory=dict)
    # hour dir -> partition -> landing end through which the hour's data is known, for hours
    # seen in checked commits that were not yet closed, or not yet built from that data
    pending: dict[str, dict[int, int]] = field(default_factory=dict)
    max_event_time: dict[int, str] = field(default_factory=dict)
    observed: str = ""
    first_hour: str | None = None  # the earliest hour with landed data
    filled_through: str | None = None  # every hour from first_hour to this one has a file

    def to_dict(self) -> dict:
        return {
            "checked": offsets_json(self.checked),
            "pending": {h: offsets_json(through) for h, through in self.pending.items()},
            "max_event_time": {str(p): t for p, t in self.max_event_time.items()},
            "observed": self.observed,
            "first_hour": self.first_hour,
            "filled_through": self.filled_through,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> TopicCursor:
        return cls.from_dict(json.loads(text)) if text else cls()

    @classmethod
    def from_dict(cls, raw: dict) -> TopicCursor:
        return cls(
            checked={int(p): o for p, o in raw.get("checked", {}).items()},
            pending={
                h: {int(p): o for p, o in through.items()}
                for h, through in raw.get("pending", {}).items()
            },
            max_event_time={int(p): t for p, t in raw.get("max_event_time", {}).items()},
            observed=raw.get("observed", ""),
            first_hour=raw.get("first_hour"),
            filled_through=raw.get("filled_through"),
        )


@dataclass
class TickPlan:
    run_requests: list[RunRequest]
    observation: AssetObservation | None
    cursor: TopicCursor
    watermark: datetime | None


def parse_hour(hour_dir_name: str) -> datetime:
    from aggregator_assets.ingest.commits import HOUR_DIR_FORMAT

    return datetime.strptime(hour_dir_name.removeprefix("hour="), HOUR_DIR_FORMAT).replace(
        tzinfo=timezone.utc
    )


def offsets_json(offsets: dict[int, int]) -> dict[str, int]:
    return {str(p): o for p, o in offsets.items()}


def offsets_text(offsets: dict[int, int]) -> str:
    return ",".join(f"{p}={o}" for p, o in sorted(offsets.items()))


def topic_watermark(
    landed_end: dict[int, int],
    high_watermarks: dict[int, int] | None,
    max_event_time: dict[int, datetime],
    now: datetime,
    lateness: timedelta,
) -> datetime | None:
    """The smallest partition watermark; None while a lagging partition has landed nothing."""
    partitions = set(landed_end) | set(high_watermarks or {})
    marks: list[datetime] = []
    for p in partitions:
        landed = max_event_time.get(p)
        caught_up = high_watermarks is not None and landed_end.get(p, 0) >= high_watermarks.get(
            p, 0
        )
        if caught_up:
            marks.append(max(landed, now - lateness) if landed else now - lateness)
        elif landed is None:
            return None
        else:
            marks.append(landed)
    # Event times up to max_future_skew ahead are valid, but only the clock closes an hour: a
    # watermark past now would request hours that are not partitions yet.
    return min(*marks, now) if marks else None


def plan_tick(
    topic: TopicConfig,
    config: PipelineConfig,
    lake: Lake,
    high_watermarks: dict[int, int] | None,
    cursor: TopicCursor,
    now: datetime,
    settings: SensorSettings = SensorSettings(),
    broker_error: str | None = None,
    deadline: float | None = None,
    first_record_time: datetime | None = None,
) -> TickPlan:
    """Decide one tick's run requests and observation from the broker offsets and the landing."""
    from aggregator_assets.ingest.hours import file_landing_through, raw_hour_file
    from aggregator_assets.ingest.landing import Landing

    # The checkpoint and the commits landed since the cursor: a tick costs the same in a year.
    changes = Landing(lake, topic.name).changes_since(cursor.checked)
    landed_end, new = changes.landed_end, changes.slices
    event_times = {
        p: datetime.fromisoformat(t)
        for p, t in cursor.max_event_time.items()
        if p in landed_end  # a wiped landing forgets its event times
    }
    for p, text in changes.max_event_time.items():  # compacted slices the cursor never saw
        t = datetime.fromisoformat(text)
        event_times[p] = max(event_times.get(p, t), t)
    for c in new:
        if c.max_event_time:
            t = datetime.fromisoformat(c.max_event_time)
            p = c.slice.partition
            event_times[p] = max(event_times.get(p, t), t)

    watermark = topic_watermark(landed_end, high_watermarks, event_times, now, topic.lateness)
    # hour -> partition -> the landing end through which that hour's data is known
    hour_through: dict[str, dict[int, int]] = {
        hour: dict(through)
        for hour, through in cursor.pending.items()
        if all(o <= landed_end.get(p, 0) for p, o in through.items())  # not from a wiped landing
    }
    for c in new:
        for hour in {*c.raw_hours, *c.quarantine_hours}:
            through = hour_through.setdefault(hour, {})
            through[c.slice.partition] = max(through.get(c.slice.partition, 0), c.slice.end)

    requests: list[RunRequest] = []
    unresolved: set[str] = set()
    for hour in sorted(hour_through):
        start = parse_hour(hour)
        if start < config.partitions_start:
            continue
        closed = watermark is not None and start + HOUR + topic.lateness <= watermark
        out_of_time = deadline is not None and time.monotonic() > deadline
        if not closed or out_of_time or len(requests) >= settings.max_requests_per_tick:
            unresolved.add(hour)
            continue
        needed = hour_through[hour]
        built = file_landing_through(lake, raw_hour_file(topic.name, start))
        if built is not None and all(built.get(p, 0) >= o for p, o in needed.items()):
            continue
        unresolved.add(hour)
        requests.append(_raw_request(topic, start, needed, "closed hour" if not built else "late"))

    known_hours = [parse_hour(h) for h in hour_through]
    if cursor.first_hour:
        known_hours.append(datetime.fromisoformat(cursor.first_hour))
    first = min(known_hours) if known_hours else None
    filled = _fill_gaps(topic, config, lake, cursor, first, watermark, requests, settings, deadline)

    lagging = high_watermarks is not None and any(
        hw > landed_end.get(p, 0) for p, hw in high_watermarks.items()
    )
    clock_hour = _newest_hour_closed_by_clock(now, topic.lateness)
    behind_clock = watermark is None or watermark < clock_hour + HOUR + topic.lateness
    if lagging and behind_clock and not requests and clock_hour >= config.partitions_start:
        first = clock_hour
        if not landed_end and first_record_time is not None:
            # A first landing: the broker's first record says where the data probably starts
            # (a hint: hours it misses are requested once landed, as closed hours).
            hinted = first_record_time.replace(minute=0, second=0, microsecond=0)
            if clock_hour - hinted < HOUR * settings.first_catch_up_hours:
                first = max(min(hinted, clock_hour), config.partitions_start)
        hour = first
        while hour <= clock_hour:
            requests.append(_raw_request(topic, hour, landed_end, "catch up"))
            hour += HOUR

    next_cursor = TopicCursor(
        checked=dict(landed_end),
        pending={hour: hour_through[hour] for hour in sorted(unresolved)},
        max_event_time={p: t.isoformat() for p, t in event_times.items()},
        observed=cursor.observed,
        first_hour=first.isoformat() if first else None,
        filled_through=filled.isoformat() if filled else None,
    )
    ends = dict(sorted(landed_end.items()))
    observation = _observation(topic, high_watermarks, ends, event_times, watermark, broker_error)
    shown = {k: v for k, v in observation.metadata.items() if k != "event_time_watermark"}
    signature = json.dumps({k: repr(v) for k, v in shown.items()}, sort_keys=True)
    if signature == cursor.observed:
        observation = None
    else:
        next_cursor.observed = signature
    return TickPlan(requests, observation, next_cursor, watermark)


def _fill_gaps(
    topic: TopicConfig,
    config: PipelineConfig,
    lake: Lake,
    cursor: TopicCursor,
    first: datetime | None,
    watermark: datetime | None,
    requests: list[RunRequest],
    settings: SensorSettings,
    deadline: float | None,
) -> datetime | None:
    """Request closed hours without any record, so daily readers never wait on a quiet hour.

    Returns the last hour up to which every hour since `first` has a file.
    """
    from aggregator_assets.ingest.hours import raw_hour_file

    filled = datetime.fromisoformat(cursor.filled_through) if cursor.filled_through else None
    if first is None or watermark is None:
        return filled
    hour = max(filled + HOUR if filled else first, config.partitions_start)
    requested = {r.partition_key for r in requests}
    contiguous = True
    while hour + HOUR + topic.lateness <= watermark:
        if len(requests) >= settings.max_requests_per_tick or (
            deadline is not None and time.monotonic() > deadline
        ):
            break
        key = hour.strftime(HOUR_KEY_FORMAT)
        if lake.exists(raw_hour_file(topic.name, hour)):
            filled = hour if contiguous else filled
        else:
            contiguous = False
            if key not in requested:
                requests.append(_raw_request(topic, hour, {}, "empty hour"))
        hour += HOUR
    return filled


def _newest_hour_closed_by_clock(now: datetime, lateness: timedelta) -> datetime:
    edge = now - lateness - HOUR
    return edge.replace(minute=0, second=0, microsecond=0)


def _raw_request(
    topic: TopicConfig, hour: datetime, offsets: dict[int, int], why: str
) -> RunRequest:
    key = hour.strftime(HOUR_KEY_FORMAT)
    return RunRequest(
        run_key=f"{topic.name}:{key}:{offsets_text(offsets)}",
        partition_key=key,
        tags={TOPIC_TAG: topic.name, "aggregator/reason": why},
    )


def _observation(
    topic: TopicConfig,
    high_watermarks: dict[int, int] | None,
    landed: dict[int, int],
    event_times: dict[int, datetime],
    watermark: datetime | None,
    broker_error: str | None,
) -> AssetObservation:
    latest = max(event_times.values()) if event_times else None
    metadata: dict = {
        "landed_offsets": MetadataValue.json({str(p): o for p, o in landed.items()}),
        "latest_event_time": MetadataValue.text(latest.isoformat() if latest else "-"),
        "event_time_watermark": MetadataValue.text(watermark.isoformat() if watermark else "-"),
    }
    if high_watermarks is not None:
        lag = {str(p): max(0, hw - landed.get(p, 0)) for p, hw in sorted(high_watermarks.items())}
        metadata |= {
            "end_offsets": MetadataValue.json({str(p): o for p, o in high_watermarks.items()}),
            "ingestion_lag": sum(lag.values()),
            "ingestion_lag_by_partition": MetadataValue.json(lag),
        }
    if broker_error:
        metadata["broker_error"] = MetadataValue.text(broker_error)
    return AssetObservation(asset_key=topic_asset_key(topic), metadata=metadata)


# -- sensors -------------------------------------------------------------------------------


@dataclass
class BatchCursor:
    """A batch sensor's cursor: each topic's `TopicCursor`, the per-topic run keys already
    requested (the hours still wanted; a key leaves once its hour is built), and the topic to
    start the next tick with when a tick ran out of time."""

    topics: dict[str, TopicCursor] = field(default_factory=dict)
    requested: dict[str, list[str]] = field(default_factory=dict)
    start: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "topics": {t: c.to_dict() for t, c in self.topics.items()},
                "requested": self.requested,
                "start": self.start,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | None) -> BatchCursor:
        if not text:
            return cls()
        raw = json.loads(text)
        return cls(
            topics={t: TopicCursor.from_dict(c) for t, c in raw.get("topics", {}).items()},
            requested={t: list(keys) for t, keys in raw.get("requested", {}).items()},
            start=raw.get("start", 0),
        )


def _hour_ranges(hours: list[str]) -> list[tuple[str, str]]:
    """Sorted hour keys -> (first, last) of each run of consecutive hours."""
    ranges: list[tuple[str, str]] = []
    previous: datetime | None = None
    for key in sorted(set(hours)):
        hour = datetime.strptime(key, HOUR_KEY_FORMAT)
        if previous is not None and hour - previous == HOUR:
            ranges[-1] = (ranges[-1][0], key)
        else:
            ranges.append((key, key))
        previous = hour
    return ranges


def group_requests(
    batch: str,
    wanted: dict[str, list[RunRequest]],
    selection: Callable[[str], list[AssetKey]] = lambda t: [AssetKey(f"raw_{asset_name(t)}")],
) -> list[RunRequest]:
    """One run per group of topics that want the same range of consecutive hours.

    `selection` gives the assets a run builds for a topic: its raw asset, and (from the batch
    sensor) its windows assets, which then follow the raw hours in the same run.

    `wanted` maps a topic to its per-hour requests (`plan_tick`). A topic wanting hours 10-12
    and 15 joins the 10-12 group and the 15 group. A group of one topic and one hour keeps the
    per-topic run key `<topic>:<hour>:<offsets>`; a larger one has `<batch>:<first>..<last>:`
    and a digest of the per-topic keys it serves, so a repeated tick makes the same key.
    """
    groups: dict[tuple[str, str], dict[str, list[RunRequest]]] = {}
    for topic, requests in wanted.items():
        by_hour = {r.partition_key: r for r in requests}
        for first, last in _hour_ranges(list(by_hour)):
            members = [r for k, r in sorted(by_hour.items()) if first <= k <= last]
            groups.setdefault((first, last), {})[topic] = members
    out = []
    for (first, last), members in sorted(groups.items()):
        requests = [r for topic in sorted(members) for r in members[topic]]
        reasons = sorted({r.tags["aggregator/reason"] for r in requests})
        tags = {"aggregator/reason": ",".join(reasons), BATCH_TAG: batch}
        if len(members) == 1:
            tags[TOPIC_TAG] = next(iter(members))
        if len(requests) == 1:
            run_key = requests[0].run_key
        else:
            digest = hashlib.sha1("\n".join(r.run_key for r in requests).encode()).hexdigest()
            run_key = f"{batch}:{first}..{last}:{digest[:16]}"
        keys = [k for t in sorted(members) for k in selection(t)]
        if first == last:
            request = RunRequest(
                run_key=run_key, partition_key=first, asset_selection=keys, tags=tags
            )
            out.append(request)
        else:
            tags |= {RANGE_START_TAG: first, RANGE_END_TAG: last}
            out.append(RunRequest(run_key=run_key, asset_selection=keys, tags=tags))
    return out


@dataclass
class BatchTick:
    run_requests: list[RunRequest]
    observations: list[AssetObservation]
    cursor: BatchCursor
    evaluated: list[str]  # the topics this tick reached, in order


def plan_batch_tick(
    batch: TopicBatch,
    config: PipelineConfig,
    kafka: KafkaResource,
    lake: Lake,
    cursor: BatchCursor,
    now: datetime,
    settings: SensorSettings = SensorSettings(),
    log: Callable[[str], None] = lambda _: None,
    hold: bool = False,
) -> BatchTick:
    """One tick of a batch sensor: `plan_tick` per topic, then the hours grouped into runs.

    The broker's offsets of every topic come from one consumer. Topics are planned in turn
    from `cursor.start`; a topic the tick budget did not reach keeps its cursor and is planned
    first next tick. A per-topic run key already requested is not requested again. With
    `hold` (a run of the batch is queued or running, and the batch's pool would make a new one
    wait for it anyway) nothing is requested: the hours stay wanted, and the first tick after
    that run asks for all of them at once instead of one run per tick.
    """
    deadline = time.monotonic() + settings.tick_budget_s
    topics = list(batch.topics)
    cursors = {t.name: cursor.topics.get(t.name, TopicCursor()) for t in topics}
    positions = {name: c.checked for name, c in cursors.items()}
    first_times: dict[str, datetime] = {}
    high_watermarks, errors = read_many_high_watermarks(
        kafka, positions, settings.broker_timeout_s, first_times
    )
    slow = {t: positions[t] for t, e in errors.items() if isinstance(e, TimeoutError)}
    if slow and high_watermarks and time.monotonic() + settings.broker_timeout_s < deadline:
        # The broker answered for part of the batch: ask again for the rest within this tick,
        # rather than plan them a tick later (and ingest them in a run of their own).
        again, errors_again = read_many_high_watermarks(
            kafka, slow, settings.broker_timeout_s, first_times
        )
        high_watermarks |= again
        errors = {t: e for t, e in errors.items() if t not in slow} | errors_again
    start = cursor.start % len(topics)
    order = topics[start:] + topics[:start]
    next_cursor = BatchCursor(
        topics={t.name: cursors[t.name] for t in topics},
        requested={t.name: cursor.requested.get(t.name, []) for t in topics},
    )
    wanted: dict[str, list[RunRequest]] = {}
    observations, evaluated = [], []
    for topic in order:
        if evaluated and time.monotonic() > deadline:
            next_cursor.start = topics.index(topic)
            break
        error = errors.get(topic.name)
        if error is not None:
            log(f"{topic.name}: broker offsets unavailable: {type(error).__name__}: {error}")
        plan = plan_tick(
            topic,
            config,
            lake,
            high_watermarks.get(topic.name),
            cursors[topic.name],
            now,
            settings,
            f"{type(error).__name__}: {error}" if error is not None else None,
            deadline,
            first_times.get(topic.name),
        )
        evaluated.append(topic.name)
        next_cursor.topics[topic.name] = plan.cursor
        earlier = set(cursor.requested.get(topic.name, []))
        keys = [r.run_key for r in plan.run_requests]
        next_cursor.requested[topic.name] = [k for k in keys if k in earlier] if hold else keys
        new = [r for r in plan.run_requests if r.run_key not in earlier]
        if new and not hold:
            wanted[topic.name] = new
        if plan.observation is not None:
            observations.append(plan.observation)
    built = {t.name: [AssetKey(f"raw_{t.asset_name}"), *window_keys(t)] for t in topics}
    requests = group_requests(batch.name, wanted, built.__getitem__)
    return BatchTick(requests, observations, next_cursor, evaluated)


def batch_sensor(
    batch: TopicBatch, config: PipelineConfig, settings: SensorSettings = SensorSettings()
) -> SensorDefinition:
    names = [t.name for t in batch.topics]
    shown = ", ".join(f"`{n}`" for n in names[:5]) + (
        f" and {len(names) - 5} more" if len(names) > 5 else ""
    )

    @sensor(
        name=f"{batch.name}_sensor",
        asset_selection=[
            k for t in batch.topics for k in (AssetKey(f"raw_{t.asset_name}"), *window_keys(t))
        ],
        minimum_interval_seconds=settings.interval_s,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            f"Watches Kafka topics {shown}: reports offsets and ingestion lag on each"
            " `kafka_<topic>` and requests `raw_<topic>` (and its windows) for each closed hour"
            " not yet built from all its landed records, topics wanting the same hours in one run."
        ),
    )
    def _sensor(context: SensorEvaluationContext, kafka: KafkaResource, lake: LakeResource):
        in_flight = RunsFilter(tags={BATCH_TAG: batch.name}, statuses=IN_FLIGHT)
        busy = context.instance.get_runs_count(filters=in_flight) > 0
        tick = plan_batch_tick(
            batch,
            config,
            kafka,
            lake.get_lake(),
            BatchCursor.from_json(context.cursor),
            datetime.now(timezone.utc),
            settings,
            context.log.warning,
            hold=busy,
        )
        for request in tick.run_requests:
            raw = [k for k in request.asset_selection or [] if k.path[0].startswith("raw_")]
            context.log.info(f"requesting {request.run_key} for {len(raw)} topics")
        return SensorResult(
            run_requests=tick.run_requests,
            asset_events=tick.observations,
            cursor=tick.cursor.to_json(),
        )

    return _sensor


def topic_sensor(
    topic: TopicConfig, config: PipelineConfig, settings: SensorSettings = SensorSettings()
) -> SensorDefinition:
    """The sensor of a batch of one topic, `<topic>_topic_sensor`."""
    return batch_sensor(TopicBatch(f"{topic.asset_name}_topic", (topic,)), config, settings)


def topic_sensors(
    config: PipelineConfig, settings: SensorSettings = SensorSettings()
) -> list[SensorDefinition]:
    """One sensor per topic batch (each with its own cursor and time budget)."""
    return [batch_sensor(b, config, settings) for b in topic_batches(config)]
