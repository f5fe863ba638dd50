"""Hourly raw assets: one per topic, ingesting Kafka into `raw/<topic>/year=/month=/day=/hour=/`.

Topics are ingested in batches (`topic_batch_size`, see `assets/topics.py`): one subsettable
multi-asset per batch, one asset per topic. A run selects any subset of its batch's topics and
ingests them one after the other in one process, so a thousand slow topics cost a few runs an
hour instead of a thousand (each run pays the code location's start-up). A single topic's
backfill still selects only that topic, and a range is one run (`BackfillPolicy.single_run`).

For each selected topic, a run first lands every new Kafka record (exactly once, by offset),
then rebuilds each hour of its partition range whole from the landing log.

Failures are of two kinds (`ingest/errors.py` decides which). Transient ones (broker
unreachable, a broker that stops answering mid-run, S3 or registry errors that outlast their
clients' own retries) are retried by `RAW_RETRY_POLICY`: a retry is safe because landing is
exactly-once by offset. Everything else (the broker lost offsets, the topic was recreated, the
landing was altered, a record the code cannot handle, refused credentials) would fail the same
way again, so it fails the step as a `Failure` that disallows retries, and tags its run so that
the deployment's run retries skip it too. One topic failing does not stop the others of its run:
their hours are materialized, and the step then fails naming the topics that did not make it.

The modules doing the work (Kafka client, Arrow, DuckDB) are imported when a run executes, not
when the code location loads.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    Backoff,
    Failure,
    Jitter,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    TableColumn,
    TableSchema,
    multi_asset,
)

from aggregator_assets.assets.topics import topic_asset_key
from aggregator_assets.config import PipelineConfig, TopicConfig
from aggregator_assets.partitions import hourly_partitions, hours_between
from aggregator_assets.resources import KafkaResource, LakeResource, SchemaRegistryResource

if TYPE_CHECKING:
    from aggregator_assets.ingest.advance import AdvanceResult
    from aggregator_assets.ingest.hours import HourResult
    from aggregator_assets.lake import Lake

# Dagster's run-retry daemon skips a failed run with this tag set to "false".
NO_RUN_RETRY_TAG = "dagster/retry_on_asset_or_op_failure"
# 30s, 60s, 120s (+-50%): rides out a broker restart or a storage brown-out of a few minutes.
# Applies to transient failures only; the others raise a Failure that disallows retries.
RAW_RETRY_POLICY = RetryPolicy(
    max_retries=3, delay=30, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)


def raw_asset_key(topic: TopicConfig) -> AssetKey:
    return AssetKey(f"raw_{topic.asset_name}")


def raw_metadata(
    lake: "Lake", topic: TopicConfig, hours: list["HourResult"], advanced: "AdvanceResult"
) -> dict:
    from aggregator_assets.ingest.schema import raw_schema

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


def advance_landing(*args, **kwargs) -> "AdvanceResult":
    """`ingest.advance.advance_landing`, imported on a run's first call (tests patch this)."""
    from aggregator_assets.ingest.advance import advance_landing as advance

    return advance(*args, **kwargs)


def build_hour(*args, **kwargs) -> "HourResult":
    """`ingest.hours.build_hour`, imported on a run's first call (tests patch this)."""
    from aggregator_assets.ingest.hours import build_hour as build

    return build(*args, **kwargs)


def ingest_topic(
    context: AssetExecutionContext,
    topic: TopicConfig,
    config: PipelineConfig,
    kafka: KafkaResource,
    lake: "Lake",
    **services,
) -> MaterializeResult:
    """Land the topic's new records, then rebuild every hour of the run's partition range."""
    from aggregator_assets.ingest.landing import Landing

    landing = Landing(lake, topic.name)
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
        results.append(build_hour(lake, landing, topic, hour, cover))
        for path in results[-1].kept_newer:
            context.log.info(f"kept {path}: a concurrent run built it from a newer landing")
    # One line per topic (the per-hour figures are in the metadata): every log line is an event
    # row in the instance's database, and a batch run builds many topics.
    rows, first, last = sum(r.rows for r in results), results[0].raw_file, results[-1].raw_file
    where = first if len(results) == 1 else f"{len(results)} hours, {first} .. {last}"
    context.log.info(f"{topic.name}: wrote {rows} rows to {where}")
    return MaterializeResult(
        asset_key=raw_asset_key(topic), metadata=raw_metadata(lake, topic, results, advanced)
    )


def _ingest_selected(
    context: AssetExecutionContext,
    topics: dict[AssetKey, TopicConfig],
    config: PipelineConfig,
    kafka: KafkaResource,
    lake: LakeResource,
    registry: SchemaRegistryResource | None,
):
    """Yield one materialization per selected topic; then fail for the topics that failed."""
    from aggregator_assets.ingest.errors import IngestError, is_transient

    store = lake.get_lake()
    failed: dict[str, Exception] = {}
    for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
        topic = topics[key]
        avro = topic.value_format == "avro"
        services = {"schema_registry": registry.get_client()} if avro and registry else {}
        try:
            yield ingest_topic(context, topic, config, kafka, store, **services)
        except Exception as exc:
            context.log.error(f"{topic.name}: {type(exc).__name__}: {exc}")
            failed[topic.name] = exc
    if not failed:
        return
    transient = [exc for exc in failed.values() if is_transient(exc)]
    if transient:
        raise transient[0]  # the RetryPolicy retries the step; landing is exactly-once by offset
    # Run retries (deploy/dagster.yaml) would re-run the whole run: this tag opts it out.
    context.instance.add_run_tags(context.run.run_id, {NO_RUN_RETRY_TAG: "false"})
    messages = [
        f"{name}: {exc}" if isinstance(exc, IngestError) else f"{name}: {type(exc).__name__}: {exc}"
        for name, exc in failed.items()
    ]
    first = next(iter(failed.values()))
    raise Failure(description="\n".join(messages), allow_retries=False) from first


def raw_spec(topic: TopicConfig) -> AssetSpec:
    return AssetSpec(
        key=raw_asset_key(topic),
        deps=[topic_asset_key(topic)],
        group_name=topic.asset_name,
        kinds={"kafka", topic.value_format, "parquet"},
        skippable=True,
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
    )


def raw_assets(
    name: str,
    topics: Sequence[TopicConfig],
    config: PipelineConfig,
    retry_policy: RetryPolicy | None = RAW_RETRY_POLICY,
) -> AssetsDefinition:
    """The raw assets of a batch of topics: one op `raw_<name>` in pool `ingest_<name>`.

    The pool (one slot, held for the whole run: deploy/dagster.yaml) keeps two runs from
    ingesting the same topic at once, whichever subset of the batch each selects.
    """
    by_key = {raw_asset_key(t): t for t in topics}
    decorate = multi_asset(
        name=f"raw_{name}",
        specs=[raw_spec(t) for t in topics],
        partitions_def=hourly_partitions(config.partitions_start),
        backfill_policy=BackfillPolicy.single_run(),
        can_subset=True,
        pool=f"ingest_{name}",
        retry_policy=retry_policy,
    )
    # Only Avro topics need the registry, so JSON-only deployments need not configure one.
    if any(t.value_format == "avro" for t in topics):

        def _raw(
            context: AssetExecutionContext,
            kafka: KafkaResource,
            lake: LakeResource,
            schema_registry: SchemaRegistryResource,
        ):
            yield from _ingest_selected(context, by_key, config, kafka, lake, schema_registry)

    else:

        def _raw(context: AssetExecutionContext, kafka: KafkaResource, lake: LakeResource):
            yield from _ingest_selected(context, by_key, config, kafka, lake, None)

    return decorate(_raw)


def raw_asset(
    topic: TopicConfig, config: PipelineConfig, retry_policy: RetryPolicy | None = RAW_RETRY_POLICY
) -> AssetsDefinition:
    """The raw asset of one topic alone, in pool `ingest_<asset name>` (tests, small setups)."""
    return raw_assets(topic.asset_name, [topic], config, retry_policy)
