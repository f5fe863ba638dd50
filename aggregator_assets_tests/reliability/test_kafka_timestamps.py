"""Kafka timestamps a producer can set: none stops a partition, hides a record or pins a sensor.

The rule (aggregator_assets/ingest/kafka_time.py, README "Quarantine reasons"): a Kafka
timestamp is trusted when it is after the Unix epoch and at most `max_future_skew` ahead of the
landing run's clock. Other records go to quarantine as `invalid_kafka_timestamp`, in the hour
they were landed, with the exact milliseconds in `detail`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from aggregator_assets.ingest.advance import advance_landing
from aggregator_assets.ingest.fetch import Fingerprint
from aggregator_assets.ingest.hours import build_hour, quarantine_hour_file, raw_hour_file
from aggregator_assets.ingest.kafka_time import INVALID_KAFKA_TIMESTAMP, landing_hour
from aggregator_assets.ingest.landing import Commit, Landing, SliceId, compute_cover
from aggregator_assets.resources import KafkaResource
from aggregator_assets.sensors import SensorSettings, TopicCursor, plan_tick
from aggregator_assets_tests.ingest.helpers import BASE_HOUR, START, event, ms, pipeline
from aggregator_assets_tests.reliability.common import (
    CountingLake,
    create_topic,
    failure_text,
    run_raw,
)

NOW = datetime.now(timezone.utc)
HOSTILE_TIMESTAMPS = {
    "micros_for_millis": ms(NOW) * 1000,  # year ~58000: the OverflowError of issue #17
    "past_year_9999": ms(datetime(9999, 12, 31, 23, tzinfo=timezone.utc)) + 3_600_000,
    "int64_max": 2**63 - 1,
    "int64_min": -(2**63),
    "no_timestamp": -1,
    "epoch_zero": 0,
    "a_day_ahead": ms(NOW + timedelta(days=1)),
    "year_3000": ms(datetime(3000, 1, 1, tzinfo=timezone.utc)),
}
SETTINGS = SensorSettings(max_requests_per_tick=1000)


def produce_exactly(kafka: KafkaResource, topic: str, records: list[tuple[int, bytes]]) -> None:
    """(timestamp ms, value) records to partition 0, one batch each, so timestamps stay exact."""
    with kafka.producer(linger_ms=0) as producer:
        for timestamp_ms, value in records:
            producer.send(topic, value=value, key=b"k", partition=0, timestamp_ms=timestamp_ms)
            producer.flush()


def test_hostile_kafka_timestamps_are_quarantined_and_the_partition_moves_on(kafka, local_lake):
    topic = create_topic(kafka, "hostile-ts", partitions=1)
    value = event("d1", BASE_HOUR + timedelta(minutes=5), 1.5)
    records = [(ts, value) for ts in HOSTILE_TIMESTAMPS.values()]
    records.append((ms(BASE_HOUR + timedelta(minutes=6)), value))  # a good record after them
    produce_exactly(kafka, topic, records)
    config = pipeline(topic)
    before = datetime.now(timezone.utc)
    result = run_raw(config, kafka, local_lake, f"{BASE_HOUR:%Y-%m-%d-%H}:00")
    after = datetime.now(timezone.utc)
    assert result.success, failure_text(result)

    lake = local_lake.get_lake()
    raw = lake.read_table(raw_hour_file(topic, BASE_HOUR))
    assert raw["kafka_offset"].to_pylist() == [len(records) - 1], "later records still land"
    landing = Landing(lake, topic)
    hours = {h for c in landing.commits() for h in c.quarantine_hours}
    landed_in = [landing_hour(t, START) for t in (before, after)]
    assert len(hours) == 1 and hours <= {f"hour={h:%Y-%m-%dT%H}" for h in landed_in}
    hour = datetime.strptime(hours.pop(), "hour=%Y-%m-%dT%H").replace(tzinfo=timezone.utc)
    assert hour <= datetime.now(timezone.utc), "the hour closes like any other"
    build_hour(lake, landing, config.topics[0], hour, compute_cover(landing.commits()))
    rows = lake.read_table(quarantine_hour_file(topic, hour)).to_pylist()
    assert [r["kafka_offset"] for r in rows] == list(range(len(HOSTILE_TIMESTAMPS)))
    for row, timestamp in zip(rows, HOSTILE_TIMESTAMPS.values(), strict=True):
        assert row["reason"] == INVALID_KAFKA_TIMESTAMP
        assert row["detail"] == str(timestamp), "the exact milliseconds are kept"
        assert row["kafka_timestamp"] is None and row["value"] == value and row["key"] == b"k"


def test_a_far_future_timestamp_neither_hides_a_record_nor_pins_the_sensor(kafka, tmp_path):
    """Issue #17.2: an invalid record stamped year 3000 went to quarantine hour 3000-01-01T00."""
    topic = create_topic(kafka, "year-3000", partitions=1)
    arrival = ms(BASE_HOUR + timedelta(minutes=10))
    records = [(arrival, event("d1", BASE_HOUR + timedelta(minutes=i), 1.0)) for i in range(3)]
    records.insert(1, (HOSTILE_TIMESTAMPS["year_3000"], b"{oops"))
    produce_exactly(kafka, topic, records)
    config = pipeline(topic)
    lake = CountingLake(str(tmp_path / "lake"))
    landing = Landing(lake, topic)
    with kafka.consumer() as consumer:
        advance_landing(
            consumer, landing, config.topics[0], config.partitions_start, slice_records=1
        )
    now = datetime.now(timezone.utc)
    hours = {h for c in landing.commits() for h in (*c.raw_hours, *c.quarantine_hours)}
    assert max(hours) <= f"hour={now:%Y-%m-%dT%H}", "every landed hour is one that will be built"

    ends = {0: len(records)}
    plan = plan_tick(config.topics[0], config, lake, ends, TopicCursor(), now, SETTINGS)
    assert plan.cursor.checked == ends, "the cursor advances past every commit"
    requested = {r.partition_key: r.tags["aggregator/reason"] for r in plan.run_requests}
    assert requested[f"{BASE_HOUR:%Y-%m-%d-%H}:00"] == "closed hour"
    build_hour(lake, landing, config.topics[0], BASE_HOUR, compute_cover(landing.commits()))
    lake.reads.clear()
    again = plan_tick(config.topics[0], config, lake, ends, plan.cursor, now, SETTINGS)
    assert not lake.reads, "a tick with nothing new reads no commit"
    assert again.cursor.checked == ends
    assert f"{BASE_HOUR:%Y-%m-%d-%H}:00" not in {r.partition_key for r in again.run_requests}


def test_an_hour_that_is_never_built_costs_the_sensor_nothing(tmp_path):
    """A landing written before the rule (or an hour whose runs keep failing) keeps an hour open.

    The cursor still advances to the end of the landing; the hour waits as one cursor entry,
    and later ticks read only new commits, not every commit landed after that hour.
    """
    config = pipeline("legacy")
    lake = CountingLake(str(tmp_path / "lake"))
    landing = Landing(lake, "legacy")
    bad_hour, good_hour = "hour=3000-01-01T00", f"hour={BASE_HOUR:%Y-%m-%dT%H}"
    for i in range(4):
        quarantine = {bad_hour: {"malformed_json": 1}} if i == 0 else {}
        commit = Commit(
            slice=SliceId(0, i * 10, i * 10 + 10),
            last=Fingerprint(i * 10 + 9, 0, 0),
            raw_hours={good_hour: 10 - len(quarantine)},
            late_hours={},
            quarantine_hours=quarantine,
            max_event_time=(BASE_HOUR + timedelta(minutes=i)).isoformat(),
            max_kafka_timestamp=None,
        )
        lake.write_bytes(f"{landing.prefix}/commits/{commit.slice.name}.json", commit.to_json())
    now = datetime.now(timezone.utc)
    ends = {0: 40}
    first = plan_tick(config.topics[0], config, lake, ends, TopicCursor(), now, SETTINGS)
    assert first.cursor.checked == ends
    assert set(first.cursor.pending) == {bad_hour, good_hour}
    lake.reads.clear()
    second = plan_tick(config.topics[0], config, lake, ends, first.cursor, now, SETTINGS)
    assert not lake.reads, "no commit is read again"
    assert second.cursor.checked == ends and bad_hour in second.cursor.pending


def test_future_event_times_never_close_an_hour_before_the_clock(kafka, local_lake):
    """Event times up to max_future_skew ahead are valid, but must not close the current hour.

    Otherwise the sensor requests a partition Dagster does not have yet: the tick fails and its
    cursor stands still until the clock catches up.
    """
    topic = create_topic(kafka, "ahead", partitions=1)
    clock = BASE_HOUR + timedelta(minutes=20)  # the sensor's "now" in this test
    produce_exactly(
        kafka,
        topic,
        [
            (ms(clock - timedelta(minutes=10)), event("d1", BASE_HOUR + timedelta(minutes=5), 1)),
            (ms(clock), event("d1", clock + timedelta(minutes=55), 2.0)),  # within the skew
        ],
    )
    config = pipeline(topic)
    lake = local_lake.get_lake()
    with kafka.consumer() as consumer:
        advance_landing(consumer, Landing(lake, topic), config.topics[0], config.partitions_start)
    plan = plan_tick(config.topics[0], config, lake, {0: 2}, TopicCursor(), clock, SETTINGS)
    assert plan.watermark == clock
    assert plan.run_requests == [], f"hour {BASE_HOUR} has not ended at {clock}"
