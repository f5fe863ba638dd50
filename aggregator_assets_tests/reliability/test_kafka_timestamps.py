"""Kafka timestamps a producer can set: none stops a partition, hides a record or pins a sensor.

The rule (aggregator_assets/ingest/kafka_time.py, README "Quarantine reasons"): a Kafka
timestamp is trusted when it is after the Unix epoch and at most `max_future_skew` ahead of the
landing run's clock. Other records go to quarantine as `invalid_kafka_timestamp`, in the hour
they were landed, with the exact milliseconds in `detail`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from aggregator_assets.ingest.hours import build_hour, quarantine_hour_file, raw_hour_file
from aggregator_assets.ingest.kafka_time import INVALID_KAFKA_TIMESTAMP, landing_hour
from aggregator_assets.ingest.landing import Landing, compute_cover
from aggregator_assets.resources import KafkaResource
from aggregator_assets_tests.ingest.helpers import BASE_HOUR, START, event, ms, pipeline
from aggregator_assets_tests.reliability.common import create_topic, failure_text, run_raw

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
