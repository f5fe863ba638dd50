"""Topic batches against a real broker and lake: one sensor and one run serve many topics,
while each topic keeps its own asset and a single topic can still run alone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dagster import (
    AssetKey,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    Definitions,
    build_sensor_context,
    materialize,
)

from aggregator_assets.assets.raw import raw_assets
from aggregator_assets.assets.topics import topic_batches, topic_spec
from aggregator_assets.assets.windows import windows_batch_asset
from aggregator_assets.config import WindowSpec
from aggregator_assets.sensors import BatchCursor, SensorSettings, topic_sensors
from aggregator_assets_tests.ingest.helpers import (
    Sent,
    event,
    mixed_records,
    ms,
    new_topic,
    pipeline,
    produce,
)

SETTINGS = SensorSettings(max_requests_per_tick=1000)
RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
KEY = "%Y-%m-%d-%H:%M"


def _batch_config(kafka, topics: int, batch_size: int):
    names = [new_topic(kafka) for _ in range(topics)]
    for name in names:
        produce(kafka, name, mixed_records())
    base = pipeline(names[0])
    minute = WindowSpec(size="1m")
    topics = [base.topics[0].model_copy(update={"name": n, "windows": [minute]}) for n in names]
    return base.model_copy(update={"topics": topics, "topic_batch_size": batch_size})


def _tick(sensor, instance, kafka, lake, cursor, defs):
    with build_sensor_context(
        instance=instance, cursor=cursor, resources={"kafka": kafka, "lake": lake}, definitions=defs
    ) as context:
        return sensor.evaluate_tick(context)


def _run(assets, request, kafka, lake, instance):
    tags = {k: request.tags[k] for k in RANGE if k in request.tags}
    return materialize(
        assets,
        selection=request.asset_selection,
        partition_key=request.partition_key,
        tags=tags,
        resources={"kafka": kafka, "lake": lake},
        instance=instance,
    )


def test_one_sensor_and_one_run_for_a_batch_of_topics(kafka, local_lake):
    config = _batch_config(kafka, topics=3, batch_size=2)
    batches = topic_batches(config)
    assert [len(b.topics) for b in batches] == [2, 1]
    batch = batches[0]
    raw = raw_assets(batch.name, batch.topics, config)
    windows = windows_batch_asset(batch.name, batch.topics, config)
    assets = [raw, windows]
    keys = [AssetKey(f"raw_{t.asset_name}") for t in batch.topics]
    followers = [AssetKey(f"windows_{t.asset_name}_1m") for t in batch.topics]
    assert sorted(raw.keys) == sorted(keys), "one asset per topic"
    assert raw.op.pool == "ingest_batch_0", "the batch's pool keeps its topics' runs apart"
    sensor = topic_sensors(config, SETTINGS)[0]
    defs = Definitions(
        assets=[*(topic_spec(t) for t in batch.topics), *assets],
        sensors=[sensor],
        resources={"kafka": kafka, "lake": local_lake},
    )
    instance = DagsterInstance.ephemeral()

    first = _tick(sensor, instance, kafka, local_lake, None, defs)
    (catch_up,) = first.run_requests
    assert sorted(catch_up.asset_selection) == sorted(keys + followers), "one run, windows too"
    assert catch_up.tags["aggregator/batch"] == "batch_0"
    assert "aggregator/topic" not in catch_up.tags
    assert len(first.asset_events) == 2, "each topic is observed on its own asset"
    result = _run(assets, catch_up, kafka, local_lake, instance)
    materialized = result.get_asset_materialization_events()
    assert {e.asset_key for e in materialized} == set(keys + followers)
    assert {e.step_key for e in materialized} == {"raw_batch_0", "windows_batch_0"}

    # While a run of the batch is in flight, its pool would hold a new one back: nothing is
    # requested, and the hours are all requested by the first tick after it.
    running = DagsterRun(
        job_name="__ASSET_JOB",
        status=DagsterRunStatus.STARTED,
        tags={"aggregator/batch": "batch_0"},
    )
    instance.add_run(running)
    held = _tick(sensor, instance, kafka, local_lake, first.cursor, defs)
    assert held.run_requests == []
    instance.delete_run(running.run_id)

    second = _tick(sensor, instance, kafka, local_lake, held.cursor, defs)
    (closed,) = second.run_requests
    assert sorted(closed.asset_selection) == sorted(keys + followers), "same hours, one run"
    assert all(k in closed.tags for k in RANGE)
    repeated = _tick(sensor, instance, kafka, local_lake, second.cursor, defs)
    assert repeated.run_requests == [], "an hour already requested is not requested again"

    # A single topic's backfill of the same range is one run building that topic only.
    alone = closed.__class__(asset_selection=[keys[0]], tags=closed.tags)
    result = _run([raw], alone, kafka, local_lake, instance)
    built = result.get_asset_materialization_events()
    assert {e.asset_key for e in built} == {keys[0]}
    assert len(built) > 1, "every hour of the range is materialized"

    cursor = BatchCursor.from_json(repeated.cursor)
    assert sorted(cursor.topics) == sorted(t.name for t in batch.topics)


def test_a_first_landing_catches_up_on_recent_hours_in_one_run(kafka, local_lake):
    """A topic the lake has never seen, whose records start two hours ago: its first request
    spans from the first record's hour to the newest closed hour (not one hour per tick)."""
    name = new_topic(kafka, partitions=2)
    now = datetime.now(timezone.utc)
    first = now - timedelta(hours=2, minutes=30)
    times = [first + timedelta(minutes=10 * i) for i in range(12)]
    produce(
        kafka, name, [Sent(i % 2, event("d1", t, 1.0), ms(t), t, True) for i, t in enumerate(times)]
    )
    config = pipeline(name)
    sensor = topic_sensors(config, SETTINGS)[0]
    raw = raw_assets("batch_0", config.topics, config)
    defs = Definitions(
        assets=[topic_spec(config.topics[0]), raw],
        sensors=[sensor],
        resources={"kafka": kafka, "lake": local_lake},
    )
    instance = DagsterInstance.ephemeral()
    (catch_up,) = _tick(sensor, instance, kafka, local_lake, None, defs).run_requests
    assert catch_up.tags["aggregator/reason"] == "catch up"
    clock_hour = (now - config.topics[0].lateness - timedelta(hours=1)).replace(
        minute=0, second=0, microsecond=0
    )
    assert catch_up.tags[RANGE[0]] == first.replace(minute=0, second=0, microsecond=0).strftime(KEY)
    assert catch_up.tags[RANGE[1]] == clock_hour.strftime(KEY)
    result = _run([raw], catch_up, kafka, local_lake, instance)
    built = sorted(e.partition for e in result.get_asset_materialization_events())
    assert built[0] == catch_up.tags[RANGE[0]] and built[-1] == catch_up.tags[RANGE[1]]


def test_topics_the_broker_was_too_busy_to_answer_are_asked_again_in_the_same_tick(
    kafka, local_lake, monkeypatch
):
    """On a loaded machine the broker answers for part of a batch within the timeout; the
    tick asks again for the rest, so the batch's first hours are still one run.

    The busy broker is simulated (the first answer for one topic is dropped with the timeout
    the sensor reports then): the real one answers every topic in time on a quiet machine."""
    from aggregator_assets import sensors

    config = _batch_config(kafka, topics=3, batch_size=3)
    batch = topic_batches(config)[0]
    slow = batch.topics[1].name
    real, asked = sensors.read_many_high_watermarks, []

    def busy_once(kafka_resource, positions, timeout_s, first_times=None):
        asked.append(sorted(positions))
        found, errors = real(kafka_resource, positions, timeout_s, first_times)
        if len(asked) == 1:
            found.pop(slow)
            errors[slow] = TimeoutError(f"no fetch response from every partition of {slow}")
        return found, errors

    monkeypatch.setattr(sensors, "read_many_high_watermarks", busy_once)
    now = datetime.now(timezone.utc)
    tick = sensors.plan_batch_tick(
        batch, config, kafka, local_lake.get_lake(), BatchCursor(), now, SETTINGS
    )
    assert asked == [sorted(t.name for t in batch.topics), [slow]]
    assert len(tick.run_requests) == 1, [r.run_key for r in tick.run_requests]
    selected = {k.to_user_string() for k in tick.run_requests[0].asset_selection}
    assert {f"raw_{t.asset_name}" for t in batch.topics} <= selected
