"""Property: whatever the topic holds and whatever runs happen, the lake holds it exactly once.

Hypothesis draws a topic's contents (event hours, disorder, lateness up to hours, invalid
records, spread over partitions, produced in batches between operations) and a sequence of
operations: raw runs (single hours, reruns, ranged backfills, in any order) and landing
maintenance passes (compaction, retention of sealed hours up to a drawn hour, garbage collection).
Most runs call the ingestion functions directly (what the asset does, without Dagster's
overhead); runs drawn with `dagster=True` go through `dagster.materialize`.

An operation may be interfered with at its n-th call into the lake: killed there (the exception
stands for a kill -9: nothing after it happens), or interrupted by another operation that runs to
completion at that point (a maintenance pass in the middle of a run, or a run in the middle of a
pass: concurrent runs). A run that meets a piece a concurrent pass removed fails transiently and
is retried, as its RetryPolicy would.

Checked after every operation: no record is in the lake twice, and every visible hour file holds
exactly the records of its hour below the landing offsets it records it was built through. After
each run that succeeds, every hour it built holds everything produced so far that belongs to it.
After a last pass and a final backfill over every hour, raw plus quarantine equals everything
produced, each (partition, offset) once, retired hours included.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aggregator_assets.config import LandingSettings
from aggregator_assets.ingest.advance import advance_landing
from aggregator_assets.ingest.commits import hour_of_dir
from aggregator_assets.ingest.errors import TransientIngestError
from aggregator_assets.ingest.hours import COVER_METADATA_KEY, build_hour, file_landing_through
from aggregator_assets.ingest.landing import Landing, compute_cover
from aggregator_assets.ingest.lifecycle import collect_staging, maintain_topic
from aggregator_assets.lake import Lake, parse_hour_path
from aggregator_assets.resources import KafkaResource, LakeResource
from aggregator_assets_tests.ingest.helpers import (
    BASE_HOUR,
    Sent,
    event,
    lake_contents,
    ms,
    offsets,
    pipeline,
    produce,
)
from aggregator_assets_tests.ingest.lifecycle_helpers import InterferingLake, Killed, kill
from aggregator_assets_tests.reliability.common import create_topic, range_tags, run_raw

HOURS = 4  # event hours BASE_HOUR .. +3; arrivals up to 3 hours later
LAST_HOUR = HOURS + 2  # quarantine hours reach BASE + 6
BAD_VALUES = [b"{oops", b"\xff", None, b"[1]"]
GRACE = LandingSettings().grace_period


@dataclass(frozen=True)
class Record:
    partition: int
    event_hour: int
    second: int
    delay_s: int
    bad: int | None  # index into BAD_VALUES, or None for a valid record

    @property
    def event_at(self):
        return BASE_HOUR + timedelta(hours=self.event_hour, seconds=self.second)

    @property
    def arrival(self):
        return self.event_at + timedelta(seconds=self.delay_s)

    def home(self) -> tuple[str, int]:
        """Where it must end: raw by event hour, quarantine by arrival hour (offsets from BASE)."""
        if self.bad is None:
            return "raw", self.event_hour
        return "quarantine", int((self.arrival - BASE_HOUR) / timedelta(hours=1))


@dataclass(frozen=True)
class Run:
    first: int
    extra: int  # 0 = a single hour, else a ranged backfill
    dagster: bool = False
    # (at the n-th lake call, "kill" | "other" | "pass"): for a run, other = two maintenance
    # passes (the second deletes what the first retired), pass = one; for a pass, other = a run
    # of one hour, pass = a concurrent pass from the same checkpoint
    interference: tuple[int, str] | None = None


@dataclass(frozen=True)
class Maintain:
    retire_through: int  # hours up to BASE + this are past retention (-1: none)
    interference: tuple[int, str] | None = None


records = st.builds(
    Record,
    partition=st.integers(0, 2),
    event_hour=st.integers(0, HOURS - 1),
    second=st.integers(0, 3599),
    delay_s=st.sampled_from([1, 30, 400, 3600, 2 * 3600 + 17, 3 * 3600]),
    bad=st.one_of(st.none(), st.none(), st.none(), st.integers(0, len(BAD_VALUES) - 1)),
)
interference = st.one_of(
    st.none(), st.tuples(st.integers(1, 30), st.sampled_from(["kill", "other"]))
)
operations = st.lists(
    st.one_of(
        st.builds(
            Run,
            first=st.integers(0, LAST_HOUR),
            extra=st.integers(0, 2),
            dagster=st.sampled_from([False, False, False, True]),
            interference=interference,
        ),
        st.builds(Maintain, retire_through=st.integers(-1, LAST_HOUR), interference=interference),
    ),
    min_size=1,
    max_size=5,
)
scenario = st.tuples(
    st.lists(st.lists(records, max_size=25), min_size=1, max_size=3),  # batches
    st.lists(operations, min_size=1, max_size=3),  # operations after each batch
)


def _retention(retire_through: int, now: datetime) -> LandingSettings:
    """Settings under which hours up to BASE + retire_through have ended `retention` ago."""
    retired_end = BASE_HOUR + timedelta(hours=retire_through + 1)
    return LandingSettings(retention=f"{int((now - retired_end).total_seconds())}s")


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenario)
@example(  # at least one sequence through dagster.materialize, whatever Hypothesis draws
    scenario=(
        [
            [Record(0, 0, 10, 1, None), Record(1, 1, 20, 3600 * 2 + 17, 0)],
            [Record(2, 0, 5, 400, None)],
        ],
        [[Run(0, 1, True)], [Run(0, 3, True), Run(0, 0, False)]],
    )
)
@example(  # hours retired, late data for them, a pass inside a run and a run inside a pass
    scenario=(
        [
            [Record(0, 0, 10, 1, None), Record(1, 0, 20, 30, 1), Record(2, 1, 5, 400, None)],
            [Record(0, 0, 50, 3 * 3600, None), Record(1, 1, 7, 3 * 3600, None)],
            [Record(2, 0, 9, 3 * 3600, None)],
        ],
        [
            [Run(0, 2), Maintain(LAST_HOUR), Maintain(LAST_HOUR)],
            [Run(0, 1, interference=(6, "other")), Maintain(LAST_HOUR, (3, "other"))],
            [Maintain(LAST_HOUR, (9, "kill")), Run(0, 0, interference=(5, "kill"))],
        ],
    )
)
def test_raw_plus_quarantine_is_what_was_produced_exactly_once(broker, tmp_path_factory, scenario):
    batches, plans = scenario
    kafka = KafkaResource(bootstrap_servers=broker.bootstrap, request_timeout_ms=10_000)
    lake_resource = LakeResource(url=str(tmp_path_factory.mktemp("prop") / "lake"))
    lake = lake_resource.get_lake()
    topic = create_topic(kafka, "prop")
    config = pipeline(topic, lateness="5m")
    produced: dict[tuple[int, int], Record] = {}
    next_offset = Counter()
    landing_in_flight = [False]

    def direct_run(store: Lake, first: int, last: int) -> None:
        landing = Landing(store, topic)
        landing_in_flight[0] = True
        try:
            with kafka.consumer() as consumer:
                advance_landing(
                    consumer, landing, config.topics[0], config.partitions_start, slice_records=7
                )
        finally:
            landing_in_flight[0] = False
        cover = landing.cover()
        for h in range(first, last + 1):
            build_hour(store, landing, config.topics[0], BASE_HOUR + timedelta(hours=h), cover)

    def maintain(store: Lake, retire_through: int, inside_a_run: bool = False) -> None:
        # Pieces of a landing in flight, and files a run is staging, are younger than the grace
        # period; anything else that exists now may count as old (as for a pass hours later),
        # so garbage collection acts at once.
        now = datetime.now(timezone.utc) + (timedelta() if landing_in_flight[0] else GRACE * 2)
        settings_ = _retention(retire_through, now)
        maintain_topic(store, topic, settings_, now=now)
        if not inside_a_run:
            collect_staging(store, settings_, now=now)

    def one_pass() -> None:
        maintain(lake, LAST_HOUR, inside_a_run=True)

    def two_passes() -> None:  # compaction and retention, then deletion of what they retired
        maintain(lake, LAST_HOUR, inside_a_run=True)
        maintain(lake, LAST_HOUR, inside_a_run=True)

    def run(op: Run) -> None:
        last = op.first + op.extra
        if op.dagster:
            tags = range_tags(
                BASE_HOUR + timedelta(hours=op.first), BASE_HOUR + timedelta(hours=last)
            )
            assert run_raw(config, kafka, lake_resource, tags=tags).success
        else:
            store = lake
            if op.interference:
                at, what = op.interference
                action = {"kill": kill, "other": two_passes, "pass": one_pass}[what]
                store = InterferingLake(lake.root, at, action)
            try:
                direct_run(store, op.first, last)
            except Killed:
                return
            except TransientIngestError:  # a concurrent pass removed what it read: retried
                direct_run(lake, op.first, last)
        for h in range(op.first, last + 1):
            expected = {key for key, r in produced.items() if r.home()[1] == h}
            assert hour_offsets(lake, topic, h) == expected, f"hour {h} after a run of it"

    def maintenance(op: Maintain) -> None:
        store = lake
        if op.interference:
            at, what = op.interference
            other = Run(at % (LAST_HOUR + 1), 0)
            action = {"kill": kill, "other": lambda: run(other), "pass": one_pass}[what]
            store = InterferingLake(lake.root, at, action)
        with contextlib.suppress(Killed):
            maintain(store, op.retire_through)

    for batch, plan in zip(batches, plans + [[]] * len(batches), strict=False):
        batch = sorted(batch, key=lambda r: r.arrival)  # a broker appends in arrival order
        sent = []
        for r in batch:
            value = BAD_VALUES[r.bad] if r.bad is not None else event("d", r.event_at, 1.0)
            sent.append(Sent(r.partition, value, ms(r.arrival), r.event_at, r.bad is None))
            produced[r.partition, next_offset[r.partition]] = r
            next_offset[r.partition] += 1
        produce(kafka, topic, sent)
        for op in plan:
            run(op) if isinstance(op, Run) else maintenance(op)
            assert_files_hold_their_cover(lake, topic, produced)
            assert_markers_reach_every_unsealed_slice(lake, topic)
    maintain(lake, LAST_HOUR)
    run(Run(0, LAST_HOUR))  # the final backfill over every hour
    maintain(lake, LAST_HOUR)
    raw, quarantine = lake_contents(lake, topic)
    seen = Counter(offsets(raw) + offsets(quarantine))
    assert set(seen) == set(produced) and max(seen.values(), default=1) == 1
    for stage, table in (("raw", raw), ("quarantine", quarantine)):
        for partition, offset in offsets(table):
            assert produced[partition, offset].home()[0] == stage


def hour_offsets(lake: Lake, topic: str, hour: int) -> set[tuple[int, int]]:
    """(partition, offset) of the rows in an hour's raw and quarantine files."""
    out: set[tuple[int, int]] = set()
    for stage in ("raw", "quarantine"):
        at = BASE_HOUR + timedelta(hours=hour)
        path = f"{stage}/{topic}/year={at:%Y}/month={at:%m}/day={at:%d}/hour={at:%H}"
        for file in lake.list_files(path, ".parquet"):
            out |= set(offsets(lake.read_table(file)))
    return out


def assert_files_hold_their_cover(lake: Lake, topic: str, produced: dict) -> None:
    """Each visible file holds its hour's records below the offsets it was built through."""
    raw, quarantine = lake_contents(lake, topic)
    seen = Counter(offsets(raw) + offsets(quarantine))
    assert max(seen.values(), default=1) == 1, "a record is in the lake twice"
    for stage in ("raw", "quarantine"):
        for path in lake.list_files(f"{stage}/{topic}", ".parquet", recursive=True):
            file = lake.parquet_file(path)
            through = json.loads(file.schema_arrow.metadata[COVER_METADATA_KEY.encode()])
            hour = int((parse_hour_path(path) - BASE_HOUR) / timedelta(hours=1))
            expected = {
                (p, o)
                for (p, o), r in produced.items()
                if r.home() == (stage, hour) and o < through.get(str(p), 0)
            }
            assert set(offsets(file.read())) == expected, f"{path} and its landing_through"


def assert_markers_reach_every_unsealed_slice(lake: Lake, topic: str) -> None:
    """Markers alone (what the live views read) give the landing's end, and every slice with
    rows past what the hour's file was built through."""
    landing = Landing(lake, topic)
    cover = landing.cover()
    from_markers = compute_cover(list(landing.commits()))  # the markers alone
    assert from_markers.ends == cover.ends
    for kind, hour in cover.hours():
        at = hour_of_dir(hour)
        path = f"{kind}/{topic}/year={at:%Y}/month={at:%m}/day={at:%d}/hour={at:%H}"
        through = file_landing_through(lake, f"{path}/part-0.parquet") or {}
        found = {c.slice for c in from_markers.slices_for(kind, hour)}
        for covered in cover.slices_for(kind, hour):
            if covered.slice.end > through.get(covered.slice.partition, 0):
                assert covered.slice in found, f"{covered.slice} of {hour}: no marker"
