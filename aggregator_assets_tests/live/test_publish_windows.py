"""publish_windows against the real broker: every closed window once, after a kill -9 in the
middle of publishing and a restart, and none again on a later round."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import timedelta

import pyarrow.compute as pc
import pytest
from fastavro import parse_schema, schemaless_reader
from kafka import TopicPartition

from aggregator_assets.demo.avro import AvroEncoder
from aggregator_assets.demo.registry import LocalSchemaRegistry
from aggregator_assets.ingest.hours import build_hour
from aggregator_assets.ingest.landing import Landing
from aggregator_assets.ingest.registry_client import SchemaRegistryClient
from aggregator_assets.live.publish import (
    ORDER_HEADER,
    Publisher,
    published_window,
    sealed_windows_reader,
)
from aggregator_assets.live.tail import tail_topic
from aggregator_assets.live.windows import CLOSED_COLUMN
from aggregator_assets.windows.hourly import build_window_hour
from aggregator_assets_tests.ingest.helpers import Sent, event, ms, new_topic, produce
from aggregator_assets_tests.live.helpers import HOUR, now_hour, windowed_pipeline
from aggregator_assets_tests.processes import kill_when_ready

DEVICES, RECORDS = 10, 6000


def _read_all(kafka, topic: str) -> list:
    with kafka.consumer(auto_offset_reset="earliest", consumer_timeout_ms=3000) as consumer:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        consumer.seek_to_beginning()
        return list(consumer)


def _child(kafka, name, out, lake_url, ready, hang_at) -> subprocess.Popen:
    args = [name, out, kafka.bootstrap_servers, lake_url, str(ready), str(hang_at)]
    return subprocess.Popen(
        [sys.executable, "-m", "aggregator_assets_tests.live.publish_child", *args]
    )


@pytest.mark.parametrize("sealed_meanwhile", [False, True], ids=["open", "sealed_meanwhile"])
def test_each_closed_window_is_published_once_across_a_kill_9(
    kafka, local_lake, tmp_path, sealed_meanwhile
):
    name, out = new_topic(kafka), new_topic(kafka)  # the output topic: 3 partitions
    h0 = now_hour() - 2 * HOUR
    sent = [
        Sent(i % 3, event(f"d{i % DEVICES}", h0 + timedelta(seconds=i * 0.6), i / 7), 0, None, True)
        for i in range(RECORDS)
    ]
    sent = [Sent(s.partition, s.value, ms(h0 + HOUR), None, True) for s in sent]
    produce(kafka, name, sent)
    lake_url = local_lake.url

    ready = tmp_path / "ready"
    kill_when_ready(_child(kafka, name, out, lake_url, ready, 2500), ready)
    before = _read_all(kafka, out)
    assert 0 < len(before) < RECORDS  # killed in the middle
    config = windowed_pipeline(name, sizes=("1s",), publish_windows={"topic": out, "size": "1s"})
    topic = config.topics[0]
    if sealed_meanwhile:  # the hour leaves the provisional windows: published from its file
        store = local_lake.get_lake()
        landing = Landing(store, name)
        build_hour(store, landing, topic, h0, landing.cover())
        build_window_hour(store, topic, topic.windows[0], h0)
    assert _child(kafka, name, out, lake_url, ready, 0).wait(120) == 0

    records = _read_all(kafka, out)
    windows = [
        (json.loads(r.value)["device_id"], json.loads(r.value)["window_start"]) for r in records
    ]
    assert len(windows) == len(set(windows)) == RECORDS  # one window per (device, 6 s) reading
    assert sum(json.loads(r.value)["event_count"] for r in records) == RECORDS
    for r in records:
        assert r.key == json.loads(r.value)["device_id"].encode()
        assert ORDER_HEADER in dict(r.headers)

    # A later round (a fresh publisher that reads back) sends nothing again.
    with kafka.consumer() as consumer, kafka.producer() as producer:
        store = local_lake.get_lake()
        done = tail_topic(consumer, store, topic, config)
        again = Publisher(topic).publish(
            producer,
            kafka.consumer,
            done.provisional.get(published_window(topic).name),
            sealed_windows_reader(store, topic),
        )
    assert again == 0 and len(_read_all(kafka, out)) == RECORDS


def _decode_avro(client: SchemaRegistryClient, body: bytes) -> dict:
    assert body[0] == 0  # magic byte, then the schema id
    schema = parse_schema(client.schema(int.from_bytes(body[1:5], "big")))
    return schemaless_reader(io.BytesIO(body[5:]), schema, None)


def test_avro_source_publishes_avro_windows_once_under_the_registry(kafka, local_lake):
    """An Avro topic's closed windows go out as Avro (Confluent wire format) under
    `<out>-value`, once each: a publisher that fails midway and a fresh one after it (reading
    back the `aggregator.order` header of Avro records) send each window once, and a later
    publisher sends nothing."""
    registry = LocalSchemaRegistry().start()
    try:
        client = SchemaRegistryClient(registry.url)
        name, out = new_topic(kafka), new_topic(kafka)
        config = windowed_pipeline(
            name,
            sizes=("1s",),
            value_format="avro",
            publish_windows={"topic": out, "size": "1s"},
        )
        topic = config.topics[0]
        encoder = AvroEncoder(topic, client)
        h0 = now_hour() - 2 * HOUR
        count = 600
        sent = []
        for i in range(count):
            value = json.loads(event(f"d{i % DEVICES}", h0 + timedelta(seconds=i * 0.6), i / 7))
            sent.append(Sent(i % 3, encoder.encode(value), ms(h0 + HOUR), None, True))
        produce(kafka, name, sent)

        store = local_lake.get_lake()
        with kafka.consumer() as consumer:
            done = tail_topic(consumer, store, topic, config, schema_registry=client)
        provisional = done.provisional[published_window(topic).name]
        closed = provisional.filter(pc.fill_null(provisional[CLOSED_COLUMN], False))
        expected = closed.drop_columns([CLOSED_COLUMN]).to_pylist()
        assert len(expected) == count  # one window per (device, 6 s) reading

        with kafka.producer() as producer:  # fails after 250 sends: what reached the topic
            send, calls = producer.send, [0]

            def send_then_fail(*args, **kwargs):
                calls[0] += 1
                if calls[0] > 250:
                    raise ConnectionError("broker gone")
                return send(*args, **kwargs)

            producer.send = send_then_fail
            with pytest.raises(ConnectionError):
                Publisher(topic, registry=client).publish(producer, kafka.consumer, provisional)
            producer.flush()
        assert len(_read_all(kafka, out)) == 250
        with kafka.producer() as producer:  # a restart: reads back, sends the rest
            rest = Publisher(topic, registry=client).publish(producer, kafka.consumer, provisional)
        assert rest == count - 250

        records = _read_all(kafka, out)
        assert registry.subjects.keys() >= {f"{out}-value"}
        ids = {int.from_bytes(r.value[1:5], "big") for r in records}
        assert ids == set(registry.subjects[f"{out}-value"])  # one schema, registered once
        values = [_decode_avro(client, r.value) for r in records]
        key = lambda row: (row["device_id"], row["window_start"])  # noqa: E731
        assert sorted(values, key=key) == sorted(expected, key=key)
        for r, v in zip(records, values, strict=True):
            assert r.key == v["device_id"].encode()
            assert ORDER_HEADER in dict(r.headers)

        with kafka.producer() as producer:  # a later publisher sends nothing
            again = Publisher(topic, registry=client).publish(
                producer, kafka.consumer, provisional, sealed_windows_reader(store, topic)
            )
        assert again == 0 and len(_read_all(kafka, out)) == count
    finally:
        registry.stop()


def test_publish_windows_must_name_one_of_the_topics_window_sizes():
    with pytest.raises(ValueError, match=r"publish_windows\.size: .5m. is not one of"):
        windowed_pipeline("t", sizes=("1m",), publish_windows={"topic": "out", "size": "5m"})
    with pytest.raises(ValueError, match="topic"):
        windowed_pipeline("t", sizes=("1m",), publish_windows={"topic": "bad/name", "size": "1m"})
    ok = windowed_pipeline("t", sizes=("1m",), publish_windows={"topic": "out", "size": "60s"})
    assert published_window(ok.topics[0]).name == "1m"
