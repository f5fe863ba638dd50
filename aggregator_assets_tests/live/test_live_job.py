"""The live_tail job through Dagster: rounds land every topic, observations on kafka_<topic>,
views in the DuckDB file; the sensor keeps exactly one run alive."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import duckdb
from dagster import (
    AssetKey,
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_sensor_context,
)
from dagster_duckdb import DuckDBResource

from aggregator_assets.live.job import live_tail_job, live_tail_sensor
from aggregator_assets_tests.ingest.helpers import new_topic, produce
from aggregator_assets_tests.live.helpers import now_hour, records_between, windowed_pipeline


def test_rounds_land_observe_and_refresh_the_views(kafka, local_lake, tmp_path):
    name = new_topic(kafka)
    config = windowed_pipeline(name)
    topic = config.topics[0]
    now = datetime.now(timezone.utc)
    sent = records_between(max(now_hour(), now - timedelta(minutes=10)), now, 40)
    produce(kafka, name, sent)
    database = tmp_path / "lake.duckdb"
    started = time.monotonic()
    result = live_tail_job(config).execute_in_process(
        run_config={"ops": {"live_tail_loop": {"config": {"interval_s": 0.2, "max_rounds": 2}}}},
        resources={
            "kafka": kafka,
            "lake": local_lake,
            "duckdb": DuckDBResource(database=str(database)),
        },
    )
    assert result.success
    # A round without news is one quick fetch per partition (a paused partition left over from
    # the previous round would stall it for the 60 s stall timeout).
    assert time.monotonic() - started < 30
    observations = [
        e.event_specific_data.asset_observation
        for e in result.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ]
    # Round 2 changed nothing, so only round 1 reported.
    assert [o.asset_key for o in observations] == [AssetKey(f"kafka_{topic.asset_name}")]
    meta = observations[0].metadata
    assert sum(meta["landed_offsets"].value.values()) == len(sent)
    assert meta["end_offsets"].value == meta["landed_offsets"].value
    assert meta["lag_records"].value == 0 and meta["lag_seconds"].value == 0.0
    latest = max(s.event_time for s in sent if s.event_time)
    assert datetime.fromisoformat(meta["event_time_landed_through"].value) == latest
    with duckdb.connect(str(database), read_only=True) as con:
        live = con.sql(f"SELECT count(*) FROM live_{topic.asset_name}").fetchall()[0][0]
        windows = con.sql(
            f"SELECT sum(event_count) FROM live_windows_{topic.asset_name}_1m"
        ).fetchall()[0][0]
    assert live == windows == sum(s.valid for s in sent)


def test_sensor_requests_a_run_only_when_none_is_in_progress(tmp_path):
    job_def = live_tail_job(windowed_pipeline("t"))
    sensor = live_tail_sensor(job_def)
    with DagsterInstance.ephemeral() as instance:
        assert isinstance(sensor(build_sensor_context(instance=instance)), RunRequest)
        run = instance.create_run_for_job(job_def, status=DagsterRunStatus.STARTED)
        assert isinstance(sensor(build_sensor_context(instance=instance)), SkipReason)
        instance.report_run_failed(run)
        assert isinstance(sensor(build_sensor_context(instance=instance)), RunRequest)
