"""Generated records: whatever Kafka timestamp, key and value a producer sends, the partition
keeps moving.

Hypothesis draws records (Kafka timestamps over the whole int64 range, negative and past year
9999 included, plus values near the edges of the trust rule; keys and values as arbitrary bytes,
null, or a valid event) and produces them to a fresh topic on the real broker, in shared
batches (so kafka-python's timestamp deltas wrap around too). Then it lands them (small slices),
builds every hour the landing names, and checks:

- each offset is in raw or quarantine exactly once, and a quarantined record keeps its bytes;
- every hour is one Dagster will have: not before `partitions_start`, at most `max_future_skew`
  (twice, for an event time ahead of its Kafka timestamp) after the landing run's clock;
- the topic sensor's cursor advances to the end of the landing, and a tick with nothing new
  reads no commit.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aggregator_assets.ingest.advance import advance_landing
from aggregator_assets.ingest.hours import build_hour
from aggregator_assets.ingest.landing import Landing, compute_cover
from aggregator_assets.resources import KafkaResource
from aggregator_assets.sensors import SensorSettings, TopicCursor, parse_hour, plan_tick
from aggregator_assets_tests.ingest.helpers import BASE_HOUR, START, event, ms, pipeline
from aggregator_assets_tests.reliability.common import CountingLake, create_topic

NOW_MS = ms(datetime.now(timezone.utc))
HOUR_MS = 3_600_000
EDGES = [-(2**63), -1, 0, 1, NOW_MS * 1000, 253_402_300_800_000, 32_503_680_000_000, 2**63 - 1]
INT64 = st.integers(-(2**63), 2**63 - 1)
PLAUSIBLE = st.integers(ms(BASE_HOUR) - HOUR_MS, NOW_MS + 2 * HOUR_MS)  # around the skew edge
timestamps = st.one_of(INT64, st.sampled_from(EDGES), PLAUSIBLE)
values = st.one_of(
    st.none(),
    st.binary(max_size=48),
    st.integers(-HOUR_MS // 1000, 3 * 3600).map(
        lambda s: event("d1", BASE_HOUR + timedelta(seconds=s), 1.0)
    ),
)
records = st.lists(
    st.tuples(st.integers(0, 1), timestamps, st.one_of(st.none(), st.binary(max_size=8)), values),
    min_size=1,
    max_size=24,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(produced=records)
@example(  # issue #17: microseconds for milliseconds, then a year-3000 invalid record, in one batch
    produced=[
        (0, NOW_MS * 1000, b"k", event("d1", BASE_HOUR, 1.0)),
        (0, 32_503_680_000_000, None, b"{oops"),
        (0, ms(BASE_HOUR), b"k", event("d1", BASE_HOUR, 2.0)),
        (1, -(2**63), b"k", None),
        (1, 2**63 - 1, b"", b""),
    ]
)
def test_the_partition_keeps_moving_whatever_a_producer_sends(broker, tmp_path_factory, produced):
    kafka = KafkaResource(bootstrap_servers=broker.bootstrap, request_timeout_ms=10_000)
    topic = create_topic(kafka, "fuzz-ts", partitions=2)
    sent: dict[tuple[int, int], tuple[bytes | None, bytes | None]] = {}
    next_offset = Counter()
    with kafka.producer() as producer:
        for partition, timestamp_ms, key, value in produced:
            if key is None and value is None:
                key = b""  # kafka-python sends no record without either
            producer.send(
                topic, value=value, key=key, partition=partition, timestamp_ms=timestamp_ms
            )
            sent[partition, next_offset[partition]] = (key, value)
            next_offset[partition] += 1
        producer.flush()

    config = pipeline(topic)
    lake = CountingLake(str(tmp_path_factory.mktemp("fuzz") / "lake"))
    landing = Landing(lake, topic)
    with kafka.consumer() as consumer:
        advance_landing(
            consumer, landing, config.topics[0], config.partitions_start, slice_records=5
        )
    landed_by = datetime.now(timezone.utc)
    commits = landing.commits()
    hours = {parse_hour(h) for c in commits for h in (*c.raw_hours, *c.quarantine_hours)}
    latest = landed_by + 2 * config.topics[0].future_skew
    assert all(START <= h <= latest for h in hours), f"an hour that is never built: {hours}"

    cover = compute_cover(commits)
    for hour in hours:
        build_hour(lake, landing, config.topics[0], hour, cover)
    seen: Counter = Counter()
    for stage, extra in (("raw", []), ("quarantine", ["key", "value"])):
        for path in lake.list_files(f"{stage}/{topic}", ".parquet", recursive=True):
            columns = ["kafka_partition", "kafka_offset", *extra]
            for row in lake.read_table(path, columns=columns).to_pylist():
                where = (row["kafka_partition"], row["kafka_offset"])
                seen[where] += 1
                if stage == "quarantine":
                    assert (row["key"], row["value"]) == sent[where], "the original bytes"
    assert set(seen) == set(sent) and max(seen.values()) == 1, "every offset exactly once"

    ends = {p: n for p, n in next_offset.items() if n}
    tick = SensorSettings(max_requests_per_tick=100_000)
    now = datetime.now(timezone.utc)
    plan = plan_tick(config.topics[0], config, lake, dict(ends), TopicCursor(), now, tick)
    assert plan.cursor.checked == ends, "the sensor's cursor advances past every commit"
    lake.reads.clear()
    plan_tick(config.topics[0], config, lake, dict(ends), plan.cursor, now, tick)
    assert not lake.reads, "a tick with nothing new reads no commit"
