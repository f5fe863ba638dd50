"""Hourly raw assets: one per topic, ingesting Kafka into `raw/<topic>/year=/month=/day=/hour=/`.

A run first lands every new Kafka record (exactly once, by offset), then rebuilds each hour of
its partition range whole from the landing log. A ranged backfill is one run: it fetches once
and writes every hour in the range.

Failures are of two kinds (`ingest/errors.py` decides which). Transient ones (broker
unreachable, a broker that stops answering mid-run, S3 or registry errors that outlast their
clients' own retries) are retried by `RAW_RETRY_POLICY`: a retry is safe because landing is
exactly-once by offset. Everything else (the broker lost offsets, the topic was recreated, the
landing was altered, a record the code cannot handle, refused credentials) would fail the same
way again, so it fails the step at once as a `Failure` that disallows retries, and tags its run
so that the deployment's run retries skip it too.
"""

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    Backoff,
    Failure,
    Jitter,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    TableColumn,
    TableSchema,
    asset,
)

from aggregator_assets.assets.topics import topic_asset_key
from aggregator_assets.config import PipelineConfig, TopicConfig
from aggregator_assets.ingest.advance import AdvanceResult, advance_landing
from aggregator_assets.ingest.errors import IngestError, is_transient
from aggregator_assets.ingest.hours import HourResult, build_hour
from aggregator_assets.ingest.landing import Landing
from aggregator_assets.ingest.schema import raw_schema
from aggregator_assets.lake import Lake
from aggregator_assets.partitions import hourly_partitions, hours_between
from aggregator_assets.resources import KafkaResource, LakeResource, SchemaRegistryResource

# Dagster's run-retry daemon skips a failed run with this tag set to "false".
NO_RUN_RETRY_TAG = "dagster/retry_on_asset_or_op_failure"
# 30s, 60s, 120s (+-50%): rides out a broker restart or a storage brown-out of a few minutes.
# Applies to transient failures only; the others raise a Failure that disallows retries.
RAW_RETRY_POLICY = RetryPolicy(
    max_retries=3, delay=30, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)


def raw_metadata(
    lake: Lake, topic: TopicConfig, hours: list[HourResult], advanced: AdvanceResult
) -> dict:
    quarantined: dict[str, int] = {}
    offsets: dict[str, list[int]] = {}
    for h in hours:
        for reason, n in h.quarantined.items():
            quarantined[reason] = quarantined.get(reason, 0) + n
        for partition, (lo, hi) in h.offsets.items():
            span = offsets.setdefault(str(partition), [lo, hi])
            span[0], span[1] = min(span[0], lo), max(span[1], hi)
    starts = [h.event_time_min for h in hours if h.event_time_min]
    ends = [h.event_time_max for h in hours if h.event_time_max]
    rows = sum(h.rows for h in hours)
    schema = raw_schema(topic)
    return {
        "dagster/row_count": rows,
        "dagster/column_schema": TableSchema(
            columns=[TableColumn(f.name, str(f.type)) for f in schema]
        ),
        "rows_written": rows,
        "rows_quarantined": sum(quarantined.values()),
        "quarantined_by_reason": MetadataValue.json(quarantined),
        "late_rows": sum(h.late_rows for h in hours),
        "offsets_by_partition": MetadataValue.json(offsets),
        "event_time_min": MetadataValue.text(min(starts).isoformat() if starts else "-"),
        "event_time_max": MetadataValue.text(max(ends).isoformat() if ends else "-"),
        "records_fetched_this_run": advanced.records,
        "offsets_fetched_this_run": MetadataValue.json(advanced.offsets),
        "hours": MetadataValue.md(
            "| hour | rows | late | quarantined |\n|---|---|---|---|\n"
            + "\n".join(
                f"| {h.hour:%Y-%m-%d %H}:00 | {h.rows} | {h.late_rows}"
                f" | {sum(h.quarantined.values())} |"
                for h in hours
            )
        ),
        # One hour: its folder; a ranged run: the topic's folder (per-hour rows are in `hours`).
        "path": MetadataValue.path(
            lake.uri(
                hours[0].raw_file.rsplit("/", 1)[0] if len(hours) == 1 else f"raw/{topic.name}"
            )
        ),
    }


def raw_asset(
    topic: TopicConfig, config: PipelineConfig, retry_policy: RetryPolicy | None = RAW_RETRY_POLICY
) -> AssetsDefinition:
    def ingest(
        context: AssetExecutionContext, kafka: KafkaResource, lake: LakeResource, **services
    ):
        try:
            return _ingest(context, kafka, lake, **services)
        except Exception as exc:
            if is_transient(exc):
                raise  # the RetryPolicy retries it
            # Run retries (deploy/dagster.yaml) would re-run the whole run: this tag opts it out.
            context.instance.add_run_tags(context.run.run_id, {NO_RUN_RETRY_TAG: "false"})
            message = str(exc) if isinstance(exc, IngestError) else f"{type(exc).__name__}: {exc}"
            raise Failure(description=message, allow_retries=False) from exc

    def _ingest(
        context: AssetExecutionContext, kafka: KafkaResource, lake: LakeResource, **services
    ) -> MaterializeResult:
        store = lake.get_lake()
        landing = Landing(store, topic.name)
        with kafka.consumer() as consumer:
            advanced = advance_landing(
                consumer,
                landing,
                topic,
                config.partitions_start,
                on_slice=lambda c: context.log.info(
                    f"landed {topic.name}[{c.slice.partition}] offsets"
                    f" {c.slice.start}..{c.slice.end - 1}"
                ),
                stall_timeout_s=kafka.stall_timeout_s,
                **services,
            )
        cover = landing.cover()
        window = context.partition_time_window
        results = []
        for hour in hours_between(window.start, window.end):
            results.append(build_hour(store, landing, topic, hour, cover))
            context.log.info(f"wrote {results[-1].rows} rows to {results[-1].raw_file}")
            for path in results[-1].kept_newer:
                context.log.info(f"kept {path}: a concurrent run built it from a newer landing")
        return MaterializeResult(metadata=raw_metadata(store, topic, results, advanced))

    # Only Avro topics need the registry, so JSON-only deployments need not configure one.
    if topic.value_format == "avro":

        def _raw(
            context: AssetExecutionContext,
            kafka: KafkaResource,
            lake: LakeResource,
            schema_registry: SchemaRegistryResource,
        ):
            return ingest(context, kafka, lake, schema_registry=schema_registry.get_client())

    else:

        def _raw(context: AssetExecutionContext, kafka: KafkaResource, lake: LakeResource):
            return ingest(context, kafka, lake)

    return asset(
        name=f"raw_{topic.asset_name}",
        deps=[topic_asset_key(topic)],
        partitions_def=hourly_partitions(config.partitions_start),
        backfill_policy=BackfillPolicy.single_run(),
        group_name=topic.asset_name,
        kinds={"kafka", topic.value_format, "parquet"},
        pool=f"ingest_{topic.asset_name}",
        retry_policy=retry_policy,
        description=(
            f"Valid records of Kafka topic `{topic.name}` by event hour, in"
            f" `raw/{topic.name}/year=/month=/day=/hour=/`; invalid ones in"
            f" `quarantine/{topic.name}/...` with their reason and original bytes."
        ),
        metadata={
            "topic": topic.name,
            "value_format": topic.value_format,
            "layout": f"raw/{topic.name}/year=YYYY/month=MM/day=DD/hour=HH/",
        },
    )(_raw)
