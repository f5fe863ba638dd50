"""The `landing_maintenance` asset: what it reports, and that it runs with nobody launching it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    Definitions,
    evaluate_automation_conditions,
    materialize,
)

from aggregator_assets.assets.maintenance import MAINTENANCE_CRON, maintenance_asset
from aggregator_assets.config.loader import parse_pipeline_config
from aggregator_assets.definitions import defs as code_location
from aggregator_assets.ingest.landing import Landing
from aggregator_assets.resources import LakeResource
from aggregator_assets_tests.ingest.helpers import (
    BASE_HOUR,
    START,
    mixed_records,
    new_topic,
    pipeline,
    produce,
)
from aggregator_assets_tests.ingest.lifecycle_helpers import build, land, landing_files

KEY = AssetKey("landing_maintenance")


def _metadata(result) -> dict:
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_maintenance_reports_what_it_compacted_retired_and_kept(kafka, local_lake):
    topic = new_topic(kafka)
    config = pipeline(topic)
    lake = local_lake.get_lake()
    sent = mixed_records(hours=2)
    for half in (sent[: len(sent) // 2], sent[len(sent) // 2 :]):  # two runs
        produce(kafka, topic, half)
        land(kafka, lake, config)
    build(lake, config, [BASE_HOUR, BASE_HOUR + timedelta(hours=1)])
    markers = len(landing_files(lake, topic, "commits"))
    asset = maintenance_asset(config)

    first = _metadata(materialize([asset], resources={"lake": local_lake}))
    assert first["markers_compacted"] == markers
    assert first["hours_retired"] >= 2, "hours 10 and 11 are sealed and past 3 days"
    assert first["removed_files"] == 0, "deletions follow a generation later"
    assert first["landing_bytes_kept"] > 0
    assert first["oldest_landing"] == BASE_HOUR.isoformat()
    assert topic in first["topics"]

    second = _metadata(materialize([asset], resources={"lake": local_lake}))
    # all but the last marker of each partition (3), which stays loose for readers of markers
    assert second["removed_by_kind"]["markers"] == markers - 3
    assert second["landing_bytes_kept"] < first["landing_bytes_kept"]


def test_a_topic_that_cannot_be_maintained_does_not_stop_the_others(kafka, local_lake):
    good, bad = new_topic(kafka), new_topic(kafka)
    config = _two_topics(good, bad)
    lake = local_lake.get_lake()
    sent = mixed_records(hours=1)
    for topic in (good, bad):
        for i in range(0, len(sent), 15):  # three runs: three slices per partition
            produce(kafka, topic, sent[i : i + 15])
            land(kafka, lake, pipeline(topic))
    chain = sorted(m for m in landing_files(lake, bad, "commits") if "/p00000-" in m)
    lake.delete(chain[1])  # a gap in partition 0: someone altered the landing folder

    result = materialize(
        [maintenance_asset(config)], resources={"lake": local_lake}, raise_on_error=False
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error.message
    assert bad in failure and "altered" in failure and good not in failure
    assert Landing(lake, good).checkpoints(), "the other topic was compacted"


def _two_topics(*names: str):
    one = pipeline(names[0]).model_dump(mode="json")["topics"][0]
    topics = [{**one, "name": name} for name in names]
    return parse_pipeline_config({"partitions_start": START.isoformat(), "topics": topics})


def test_maintenance_runs_hourly_and_on_a_fresh_deployment_without_a_click():
    node = code_location.resolve_asset_graph().get(KEY)
    assert node.automation_condition is not None and node.freshness_policy is not None
    defs = Definitions(
        assets=[maintenance_asset(pipeline("t"))], resources={"lake": LakeResource(url="unused")}
    )
    now = datetime.now(timezone.utc) + timedelta(days=1)  # after every event recorded here
    hour = now.replace(minute=0, second=0, microsecond=0)
    tick = timedelta(minutes=int(MAINTENANCE_CRON.split()[0]))  # hourly, at this minute
    with DagsterInstance.ephemeral() as instance:
        cursor = None

        def requested(at: datetime) -> int:
            nonlocal cursor
            result = evaluate_automation_conditions(
                defs=defs, instance=instance, evaluation_time=at, cursor=cursor
            )
            cursor = result.cursor
            return result.get_num_requested(KEY)

        assert requested(hour + timedelta(minutes=1)) == 1, "a fresh deployment runs it at once"
        instance.report_runless_asset_event(AssetMaterialization(KEY))
        assert requested(hour + tick - timedelta(minutes=5)) == 0
        assert requested(hour + tick + timedelta(minutes=1)) == 1, "the hourly tick passed"
        instance.report_runless_asset_event(AssetMaterialization(KEY))
        assert requested(hour + tick + timedelta(minutes=10)) == 0, "once per tick"
        assert requested(hour + tick + timedelta(hours=1, minutes=1)) == 1, "and the next hour"
