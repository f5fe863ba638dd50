"""The demo producer against a real broker: what it reports sending is what Kafka holds."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest
from kafka import KafkaConsumer, TopicPartition

from aggregator_assets.config import load_pipeline_config
from aggregator_assets.demo.broker import running_broker
from aggregator_assets.demo.producer import produce_demo
from aggregator_assets.demo.records import MALFORMED_KINDS, generate_records, topic_rates
from aggregator_assets.resources import KafkaResource

MIDNIGHT = datetime(2026, 11, 23, tzinfo=timezone.utc)
START, END = MIDNIGHT - timedelta(hours=1), MIDNIGHT + timedelta(hours=1)
RATE, MALFORMED, LATE, SEED = 8.0, 0.03, 0.02, 7
CONFIG = load_pipeline_config()


def _consume(kafka: KafkaResource, topic: str, expected: int) -> list:
    consumer = KafkaConsumer(**kafka.client_config(), group_id=None, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        records: list = []
        for _ in range(200):
            for batch in consumer.poll(timeout_ms=500, max_records=50_000).values():
                records += batch
            if len(records) >= expected:
                break
        return records
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def produced():
    with running_broker() as broker:
        kafka = KafkaResource(bootstrap_servers=broker.bootstrap)
        stats = produce_demo(
            kafka,
            CONFIG,
            start=START,
            end=END,
            rate=RATE,
            malformed=MALFORMED,
            late=LATE,
            seed=SEED,
        )
        consumed = {name: _consume(kafka, name, s.total) for name, s in stats.items()}
        yield stats, consumed


def _event_s(topic, value: dict) -> float | None:
    """The record's event time, or None when it is missing or not of the configured type."""
    raw = value.get(topic.event_time.field)
    if topic.event_time.format == "iso8601":
        ok = isinstance(raw, str)
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp() if ok else None
    if not isinstance(raw, int | float):
        return None
    return raw / 1000 if topic.event_time.format == "epoch_ms" else raw


def test_kafka_holds_exactly_the_generated_records(produced):
    stats, consumed = produced
    assert set(consumed) == {t.name for t in CONFIG.topics}
    rates = topic_rates(CONFIG.topics, RATE)
    for topic in CONFIG.topics:
        records = consumed[topic.name]
        assert len(records) == stats[topic.name].total > 0
        expected = generate_records(
            topic, START, END, rate=rates[topic.name], malformed=MALFORMED, late=LATE, seed=SEED
        )
        got = sorted((r.key, r.value, r.timestamp) for r in records)
        assert got == sorted((r.key, r.value, r.timestamp_ms) for r in expected)
        assert len({r.partition for r in records}) >= 2, "keyed by device, spread by hash"


def test_timestamps_fall_in_the_span_and_rise_per_partition(produced):
    _, consumed = produced
    for topic in CONFIG.topics:
        by_partition = defaultdict(list)
        for r in consumed[topic.name]:
            assert START.timestamp() * 1000 <= r.timestamp <= END.timestamp() * 1000 + 10_000
            by_partition[r.partition].append((r.offset, r.timestamp))
        for rows in by_partition.values():
            stamps = [ts for _, ts in sorted(rows)]
            assert stamps == sorted(stamps)


def test_valid_records_are_keyed_and_timed(produced):
    stats, consumed = produced
    for topic in CONFIG.topics:
        lateness_s = topic.lateness.total_seconds()
        late = 0
        for r in consumed[topic.name]:
            try:
                value = json.loads(r.value)
            except ValueError:
                continue
            event_s = _event_s(topic, value)
            if event_s is None or topic.key_field not in value:
                continue
            assert r.key.decode() == value[topic.key_field]
            if event_s > END.timestamp():
                continue  # the out-of-range kind: a clock far in the future
            assert START.timestamp() <= event_s
            delay_s = r.timestamp / 1000 - event_s
            assert delay_s > 0
            late += delay_s > lateness_s
        assert late == stats[topic.name].late > 0


def test_malformed_share_and_kinds(produced):
    stats, _ = produced
    for name, s in stats.items():
        assert set(s.malformed) == set(MALFORMED_KINDS), name
        assert s.malformed_total / s.total == pytest.approx(MALFORMED, rel=0.25), name


def test_iot_values_are_plausible(produced):
    _, consumed = produced
    values = [json.loads(r.value) for r in consumed["iot-events"] if _is_valid_json(r.value)]
    complete = [v for v in values if isinstance(v.get("battery_level"), int)]
    batteries = [v["battery_level"] for v in complete if 0 <= v["battery_level"] <= 100]
    signals = [v["signal_strength"] for v in complete if isinstance(v.get("signal_strength"), int)]
    assert len(batteries) > 0.9 * len(complete)
    assert any(b < 20 for b in batteries)
    assert any(s < -90 for s in signals)
    assert all(-110 <= s <= -30 for s in signals if -150 <= s <= 0)  # else out_of_range
    units = {(v.get("device_type"), v.get("unit")) for v in complete}
    assert {("thermostat", "C"), ("humidity_sensor", "%"), ("air_quality", "ppm")} <= units
    stamps = [v["timestamp"] for v in complete if "timestamp" in v]
    assert all(s.endswith("Z") and len(s) == len("2026-11-23T00:00:00.000Z") for s in stamps)


def _is_valid_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


def test_vehicle_trips_are_separated_by_parked_gaps(produced):
    _, consumed = produced
    times = defaultdict(list)
    for r in consumed["vehicle-can"]:
        if _is_valid_json(r.value):
            value = json.loads(r.value)
            t = value.get("t")
            in_span = isinstance(t, float) and START.timestamp() <= t < END.timestamp()
            if in_span and value.get("device_id"):  # not a malformed record
                times[value["device_id"]].append(value["t"])
    crossing = 0
    for device, stamps in times.items():
        stamps.sort()
        trips = [[stamps[0], stamps[0]]]
        for before, after in itertools.pairwise(stamps):
            gap = after - before
            assert gap < 5 or gap > 600, (device, before, gap)
            if gap > 600:
                trips.append([after, after])
            trips[-1][1] = after
        for first, last in trips:
            assert last - first < 90 * 60 + 5
        crossing += any(first < MIDNIGHT.timestamp() < last for first, last in trips)
    assert crossing >= 1
    assert sum(len(s) for s in times.values()) > 0.9 * len(consumed["vehicle-can"])


def test_generation_is_deterministic():
    topic = CONFIG.topic("iot-events")
    end = START + timedelta(minutes=5)

    def run(seed):
        return list(generate_records(topic, START, end, rate=5, malformed=0.1, late=0.1, seed=seed))

    assert run(1) == run(1)
    assert run(1) != run(2)
