"""Concurrent runs of one hour: a file built from an older cover never replaces a newer one.

Issue #17.8, with forced order: run A computes its cover (the landing slices it reads), pauses;
run B lands more records and publishes the hour from its newer cover; A resumes and publishes.
Both succeed, and the hour must hold what B built. Production pools keep such runs apart, but
the invariant does not rely on them. Against the real broker, on a local lake and on moto S3.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pyarrow as pa
import pytest

from aggregator_assets.assets.raw import raw_asset
from aggregator_assets.ingest.advance import advance_landing
from aggregator_assets.ingest.hours import build_hour, cover_is_older, raw_hour_file
from aggregator_assets.ingest.landing import Landing, compute_cover
from aggregator_assets_tests.ingest.helpers import (
    BASE_HOUR,
    Sent,
    event,
    materialize_raw,
    ms,
    new_topic,
    pipeline,
    produce,
)

HOUR_KEY = f"{BASE_HOUR:%Y-%m-%d-%H}:00"


def records(first: int, count: int) -> list[Sent]:
    out = []
    for i in range(first, first + count):
        at = BASE_HOUR + timedelta(seconds=i)
        out.append(Sent(0, event(f"d{i % 7}", at, float(i)), ms(at), at, True))
    return out


@pytest.fixture(params=["local_lake", "s3_lake"])
def lake_resource(request):
    return request.getfixturevalue(request.param)


def test_a_stale_build_of_an_hour_never_replaces_a_newer_one(kafka, lake_resource):
    topic = new_topic(kafka, partitions=1)
    config = pipeline(topic)
    lake = lake_resource.get_lake()
    landing = Landing(lake, topic)

    def land() -> dict:
        with kafka.consumer() as consumer:
            advance_landing(consumer, landing, config.topics[0], config.partitions_start)
        return compute_cover(landing.commits())

    produce(kafka, topic, records(0, 1000))
    cover_a = land()  # run A computed its cover, then paused
    produce(kafka, topic, records(1000, 500))
    cover_b = land()  # run B landed the rest ...
    newer = build_hour(lake, landing, config.topics[0], BASE_HOUR, cover_b)  # ... and published
    stale = build_hour(lake, landing, config.topics[0], BASE_HOUR, cover_a)  # A resumes
    assert (newer.rows, stale.rows) == (1500, 1000)
    assert newer.kept_newer == []
    assert stale.kept_newer == [stale.raw_file, stale.quarantine_file]
    assert lake.read_table(raw_hour_file(topic, BASE_HOUR)).num_rows == 1500
    assert not lake.list_files("_staging", recursive=True), "the stale staged files are gone"
    again = build_hour(lake, landing, config.topics[0], BASE_HOUR, cover_b)
    assert again.kept_newer == [], "a rebuild from the same cover is published"


def test_concurrent_runs_of_one_hour_keep_the_newer_file(kafka, lake_resource, monkeypatch):
    """The same order through Dagster: two materializations of one hour, both succeed."""
    topic = new_topic(kafka, partitions=1)
    config = pipeline(topic)
    asset = raw_asset(config.topics[0], config)
    produce(kafka, topic, records(0, 1000))
    a_has_its_cover, b_published = threading.Event(), threading.Event()
    run_a = threading.current_thread()  # replaced below by A's thread

    def build_hour_in_order(*args, **kwargs):
        if threading.current_thread() is run_a:
            a_has_its_cover.set()
            assert b_published.wait(60), "run B never finished"
        return build_hour(*args, **kwargs)

    monkeypatch.setattr("aggregator_assets.assets.raw.build_hour", build_hour_in_order)
    results = {}

    def run(name: str) -> None:
        results[name] = materialize_raw(asset, kafka, lake_resource, HOUR_KEY)

    run_a = threading.Thread(target=run, args=("a",))
    run_a.start()
    assert a_has_its_cover.wait(60)
    produce(kafka, topic, records(1000, 500))
    run("b")
    b_published.set()
    run_a.join(60)
    assert results["a"].success and results["b"].success
    lake = lake_resource.get_lake()
    table = lake.read_table(raw_hour_file(topic, BASE_HOUR))
    assert table.num_rows == 1500, "the hour holds everything landed, not run A's older view"
    assert table["kafka_offset"].to_pylist() == list(range(1500))


def test_local_publishing_holds_a_lock_between_the_check_and_the_move(local_lake):
    """Two publishers of one file at the same moment: B cannot publish between A's check and
    A's move (on S3 there is no such lock; the check runs right before the copy)."""
    lake = local_lake.get_lake()
    path = "raw/t/year=2026/month=11/day=20/hour=10/part-0.parquet"
    lake.write_table(path, pa.table({"version": [0]}))
    a_checked, b_published = threading.Event(), threading.Event()

    def a_replaces(_: str) -> bool:  # A found an older file in place and is about to move
        a_checked.set()
        b_published.wait(1)  # without the lock, B would publish now and A overwrite it next
        return True

    def publish(version: int, replaces, done: threading.Event | None = None) -> None:
        table = pa.table({"version": [version]})
        with lake.parquet_writer(path, table.schema, replaces=replaces) as writer:
            writer.write_table(table)
        if done is not None:
            done.set()

    a = threading.Thread(target=publish, args=(1, a_replaces))
    a.start()
    assert a_checked.wait(5)
    b = threading.Thread(target=publish, args=(2, lambda _: True, b_published))
    b.start()
    a.join(10)
    b.join(10)
    assert lake.read_table(path)["version"].to_pylist() == [2], "B published after A's move"


@pytest.mark.parametrize(
    ("mine", "existing", "older"),
    [
        ({0: 10}, None, False),
        ({0: 10}, {}, False),  # a file without a recorded cover
        ({0: 10}, {0: 10}, False),
        ({0: 10}, {0: 15}, True),
        ({0: 10, 1: 5}, {0: 10, 1: 7}, True),
        ({0: 10}, {0: 10, 1: 3}, True),  # the existing file knows a partition mine does not
        ({0: 15}, {0: 10}, False),
        ({0: 15, 1: 2}, {0: 10, 1: 5}, False),  # not one landing: the newer write wins
    ],
)
def test_cover_comparison(mine, existing, older):
    assert cover_is_older(mine, existing) is older
