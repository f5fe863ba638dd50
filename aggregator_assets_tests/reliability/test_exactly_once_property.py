"""Property: whatever the topic holds and whatever runs happen, the lake holds it exactly once.

Hypothesis draws a topic's contents (event hours, disorder, lateness up to hours, invalid
records, spread over partitions, produced in batches between runs) and a sequence of runs:
single hours, reruns, ranged backfills, in any order. Most runs call the ingestion functions
directly (what the asset does, without Dagster's overhead); runs drawn with `dagster=True` go
through `dagster.materialize`. After each run, every hour it built holds exactly the records
produced so far that belong to it; after a final backfill over every hour, raw plus quarantine
equals everything produced, each (partition, offset) once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aggregator_assets.ingest.advance import advance_landing
from aggregator_assets.ingest.hours import build_hour
from aggregator_assets.ingest.landing import Landing, compute_cover
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
from aggregator_assets_tests.reliability.common import create_topic, range_tags, run_raw

HOURS = 4  # event hours BASE_HOUR .. +3; arrivals up to 3 hours later
BAD_VALUES = [b"{oops", b"\xff", None, b"[1]"]


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


records = st.builds(
    Record,
    partition=st.integers(0, 2),
    event_hour=st.integers(0, HOURS - 1),
    second=st.integers(0, 3599),
    delay_s=st.sampled_from([1, 30, 400, 3600, 2 * 3600 + 17, 3 * 3600]),
    bad=st.one_of(st.none(), st.none(), st.none(), st.integers(0, len(BAD_VALUES) - 1)),
)
runs = st.lists(
    st.tuples(
        st.integers(0, HOURS + 2),  # first hour (quarantine hours reach BASE + 6)
        st.integers(0, 2),  # extra hours: 0 = a single hour, else a ranged backfill
        st.sampled_from([False, False, False, True]),  # through Dagster?
    ),
    min_size=1,
    max_size=5,
)
scenario = st.tuples(
    st.lists(st.lists(records, max_size=25), min_size=1, max_size=3),  # batches
    st.lists(runs, min_size=1, max_size=3),  # runs after each batch
)


def _direct_run(kafka, lake_resource, config, first, last):
    lake = lake_resource.get_lake()
    landing = Landing(lake, config.topics[0].name)
    with kafka.consumer() as consumer:
        advance_landing(
            consumer, landing, config.topics[0], config.partitions_start, slice_records=7
        )
    cover = compute_cover(landing.commits())
    for h in range(first, last + 1):
        build_hour(lake, landing, config.topics[0], BASE_HOUR + timedelta(hours=h), cover)


@settings(
    max_examples=15,
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
        [[(0, 1, True)], [(0, 3, True), (0, 0, False)]],
    )
)
def test_raw_plus_quarantine_is_what_was_produced_exactly_once(broker, tmp_path_factory, scenario):
    batches, run_plans = scenario
    kafka = KafkaResource(bootstrap_servers=broker.bootstrap, request_timeout_ms=10_000)
    lake_resource = LakeResource(url=str(tmp_path_factory.mktemp("prop") / "lake"))
    lake = lake_resource.get_lake()
    topic = create_topic(kafka, "prop")
    config = pipeline(topic, lateness="5m")
    produced: dict[tuple[int, int], Record] = {}
    next_offset = Counter()
    built_at: dict[int, set] = {}  # hour -> offsets that hour's files must hold

    def run(first, last, dagster):
        if dagster:
            result = run_raw(
                config,
                kafka,
                lake_resource,
                tags=range_tags(
                    BASE_HOUR + timedelta(hours=first), BASE_HOUR + timedelta(hours=last)
                ),
            )
            assert result.success
        else:
            _direct_run(kafka, lake_resource, config, first, last)
        for h in range(first, last + 1):
            built_at[h] = {key for key, r in produced.items() if r.home()[1] == h}

    for batch, plan in zip(batches, run_plans + [[]] * len(batches), strict=False):
        batch = sorted(batch, key=lambda r: r.arrival)  # a broker appends in arrival order
        sent = []
        for r in batch:
            value = BAD_VALUES[r.bad] if r.bad is not None else event("d", r.event_at, 1.0)
            sent.append(Sent(r.partition, value, ms(r.arrival), r.event_at, r.bad is None))
            produced[r.partition, next_offset[r.partition]] = r
            next_offset[r.partition] += 1
        produce(kafka, topic, sent)
        for first, extra, dagster in plan:
            run(first, first + extra, dagster)
            raw, quarantine = lake_contents(lake, topic)
            seen = Counter(offsets(raw) + offsets(quarantine))
            assert max(seen.values(), default=1) == 1, "a record is in the lake twice"
            expected = set().union(*built_at.values())
            assert set(seen) == expected, "each built hour holds exactly its records so far"
    run(0, HOURS + 2, dagster=False)  # the final backfill over every hour
    raw, quarantine = lake_contents(lake, topic)
    seen = Counter(offsets(raw) + offsets(quarantine))
    assert set(seen) == set(produced) and max(seen.values(), default=1) == 1
    for stage, table in (("raw", raw), ("quarantine", quarantine)):
        for partition, offset in offsets(table):
            assert produced[partition, offset].home()[0] == stage
