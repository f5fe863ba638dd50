"""The `live_tail` job and the sensor that keeps one run of it alive.

The job's one op loops: every `interval_s` it lands each topic (`tail.tail_topic`), reports an
`AssetObservation` on `kafka_<topic>` when something changed, and refreshes the DuckDB views.
It is an ordinary run, so it shows in the UI (Runs), logs each round, and stops when the run is
terminated there (Dagster interrupts the sleep). `live_tail_sensor` requests a run whenever none
is queued or running, so a crash or a deployment restarts it within a minute; stop the sensor
and terminate the run to pause the tail. The sensor is RUNNING by default when
`AGGREGATOR_LIVE_TAIL=1` (production deployments set it), STOPPED otherwise.
"""

import contextlib
import os
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from dagster import (
    AssetObservation,
    Config,
    DefaultSensorStatus,
    Definitions,
    JobDefinition,
    MetadataValue,
    OpExecutionContext,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    job,
    op,
    sensor,
)
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

from aggregator_assets.assets.topics import topic_asset_key
from aggregator_assets.config.models import PipelineConfig, TopicConfig

if TYPE_CHECKING:  # the loop's modules (Arrow, Kafka, DuckDB) load when a run starts it
    from aggregator_assets.live.tail import TopicRound

JOB_NAME = "live_tail"
ENABLE_VARIABLE = "AGGREGATOR_LIVE_TAIL"


class LiveTailConfig(Config):
    interval_s: float = 60.0
    max_rounds: int = 0  # 0: until the run is terminated
    refresh_views: bool = True
    # Topics landed at once, each worker with its own consumer: an idle topic mostly waits on
    # its fetch, so 50 topics fit in a minute only side by side.
    workers: int = 8


def observation(done: "TopicRound", topic_key, now: datetime) -> AssetObservation:
    latest = max(done.max_event_time.values()) if done.max_event_time else None
    lag = done.lag_seconds(now)
    return AssetObservation(
        asset_key=topic_key,
        metadata={
            "landed_offsets": MetadataValue.json({str(p): o for p, o in done.landed_end.items()}),
            "end_offsets": MetadataValue.json(
                {str(p): o for p, o in sorted(done.high_watermarks.items())}
            ),
            "event_time_landed_through": MetadataValue.text(latest.isoformat() if latest else "-"),
            "event_time_watermark": MetadataValue.text(
                done.watermark.isoformat() if done.watermark else "-"
            ),
            "lag_records": done.lag_records,
            "lag_seconds": MetadataValue.float(lag),
            "landed_this_round": done.landed_records,
            "round_seconds": MetadataValue.float(round(done.seconds, 3)),
            "source": "live_tail",
        },
    )


def live_tail_job(pipeline: PipelineConfig) -> JobDefinition:
    needs = {"kafka", "lake", "duckdb"}
    if any(t.value_format == "avro" for t in pipeline.topics):
        needs.add("schema_registry")

    @op(name="live_tail_loop", required_resource_keys=needs)
    def live_tail_loop(context: OpExecutionContext, config: LiveTailConfig) -> None:
        """Land every topic each interval until the run is terminated (or `max_rounds`)."""
        from aggregator_assets.live.publish import (
            Publisher,
            published_window,
            sealed_windows_reader,
        )
        from aggregator_assets.live.tail import tail_topic
        from aggregator_assets.query.assets import rebuild_database

        kafka = context.resources.kafka
        store = context.resources.lake.get_lake()
        services = {}
        if "schema_registry" in needs:
            services["schema_registry"] = context.resources.schema_registry.get_client()
        shown: dict[str, tuple] = {}
        views_input: dict[str, tuple] = {}  # topic -> live pieces the views were built from
        publishers = {
            t.name: Publisher(t, registry=services.get("schema_registry"))
            for t in pipeline.topics
            if t.publish_windows
        }
        workers = max(1, min(config.workers, len(pipeline.topics)))
        consumers: queue.SimpleQueue = queue.SimpleQueue()

        def land(topic: TopicConfig) -> "TopicRound":
            consumer = consumers.get()  # one per worker: kafka-python clients are not shared
            try:
                extra = services if topic.value_format == "avro" else {}
                return tail_topic(consumer, store, topic, pipeline, **extra)
            finally:
                consumers.put(consumer)

        rounds = 0
        with contextlib.ExitStack() as stack:
            for _ in range(workers):
                consumers.put(stack.enter_context(kafka.consumer()))
            producer = stack.enter_context(kafka.producer()) if publishers else None
            pool = stack.enter_context(ThreadPoolExecutor(workers, thread_name_prefix="tail"))
            while True:
                started = time.monotonic()
                landed, changed = 0, rounds == 0
                pending = [(t, pool.submit(land, t)) for t in pipeline.topics]
                for topic, future in pending:
                    try:
                        done = future.result()
                    except Exception as exc:  # one topic's failure must not stop the others
                        context.log.warning(f"{topic.name}: {type(exc).__name__}: {exc}")
                        continue
                    landed += done.landed_records
                    views_input[topic.name], before = done.pieces, views_input.get(topic.name)
                    changed = changed or done.pieces != before
                    publisher = publishers.get(topic.name)
                    window = published_window(topic).name if publisher else None
                    if publisher and producer:
                        try:
                            sent = publisher.publish(
                                producer,
                                kafka.consumer,
                                done.provisional.get(window),
                                sealed_windows_reader(store, topic),
                            )
                        except Exception as exc:  # read back and retried next round
                            context.log.warning(f"{publisher.target}: {type(exc).__name__}: {exc}")
                        else:
                            if sent:
                                context.log.info(f"published {sent} windows to {publisher.target}")
                    state = (tuple(done.landed_end.items()), done.lag_records)
                    if shown.get(topic.name) != state:
                        shown[topic.name] = state
                        now = datetime.now(timezone.utc)
                        context.log_event(observation(done, topic_asset_key(topic), now))
                # The views list the live pieces: rebuild them when a topic's list changed.
                if config.refresh_views and changed and not store.is_s3:
                    rebuild_database(context.resources.duckdb.database, store, pipeline)
                rounds += 1
                context.log.info(
                    f"round {rounds}: landed {landed} records in {time.monotonic() - started:.2f}s"
                )
                if config.max_rounds and rounds >= config.max_rounds:
                    return
                time.sleep(max(0.0, config.interval_s - (time.monotonic() - started)))

    @job(
        name=JOB_NAME,
        description="Lands every topic about every minute and refreshes live_* views and"
        " provisional windows; kept alive by live_tail_sensor.",
        tags={"aggregator/live": "true"},
    )
    def live_tail():
        live_tail_loop()

    return live_tail


def live_tail_sensor(job_def: JobDefinition, interval_s: int = 60) -> SensorDefinition:
    enabled = os.environ.get(ENABLE_VARIABLE, "") in ("1", "true", "yes")

    @sensor(
        name="live_tail_sensor",
        job=job_def,
        minimum_interval_seconds=interval_s,
        default_status=DefaultSensorStatus.RUNNING if enabled else DefaultSensorStatus.STOPPED,
        description="Keeps one live_tail run queued or running.",
    )
    def _sensor(context: SensorEvaluationContext):
        running = context.instance.get_runs(
            RunsFilter(job_name=job_def.name, statuses=IN_PROGRESS_RUN_STATUSES), limit=1
        )
        if running:
            return SkipReason(f"live_tail run {running[0].run_id} is {running[0].status.value}")
        return RunRequest()

    return _sensor


def live_definitions(config: PipelineConfig) -> Definitions:
    """The live tail's job and sensor, merged into the code location by definitions.py."""
    job_def = live_tail_job(config)
    return Definitions(jobs=[job_def], sensors=[live_tail_sensor(job_def)])
