"""The `landing_maintenance` asset: the landing log's upkeep, without anyone launching it.

Every hour (and once on a fresh deployment) it compacts each topic's commit markers into a
checkpoint, removes landed pieces of hours sealed longer ago than `landing.retention`, and
orphans and `_staging/` leftovers older than `landing.gc_grace` (`ingest/lifecycle.py`). Each
materialization says what it removed, how many bytes the landing log keeps and its oldest hour,
so the UI shows the landing log's size over time. A topic that cannot be maintained (its landing
folder was altered, storage failed) does not stop the others; the run then fails naming it.
"""

from datetime import timedelta
from typing import TYPE_CHECKING

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    AutomationCondition,
    Failure,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)

from aggregator_assets.config import PipelineConfig
from aggregator_assets.resources import LakeResource

if TYPE_CHECKING:
    from aggregator_assets.ingest.lifecycle import MaintenanceReport

MAINTENANCE_CRON = "40 * * * *"
SHOWN_TOPICS = 50  # rows of the per-topic table (largest landing logs first)


def maintenance_condition() -> AutomationCondition:
    return (
        (
            AutomationCondition.missing().newly_true()
            | AutomationCondition.cron_tick_passed(MAINTENANCE_CRON).since_last_handled()
        )
        & ~AutomationCondition.in_progress()
    ).with_label(f"hourly ({MAINTENANCE_CRON}), and once when missing")


def maintenance_metadata(reports: list["MaintenanceReport"], staging_removed: int) -> dict:
    removed: dict[str, int] = {}
    for r in reports:
        for what, n in r.removed.items():
            removed[what] = removed.get(what, 0) + n
    if staging_removed:
        removed["staging"] = staging_removed
    oldest = min((r.oldest_landing for r in reports if r.oldest_landing), default=None)
    rows = sorted(reports, key=lambda r: -r.kept_bytes)[:SHOWN_TOPICS]
    table = "| topic | checkpoint | compacted | hours retired | removed | bytes kept | oldest |\n"
    table += "|---|---|---|---|---|---|---|\n" + "\n".join(
        f"| {r.topic} | {r.generation or '-'} | {r.compacted} | {len(r.retired_hours)}"
        f" | {sum(r.removed.values())} | {r.kept_bytes} | {r.oldest_landing or '-'} |"
        for r in rows
    )
    return {
        "removed_files": sum(removed.values()),
        "removed_by_kind": MetadataValue.json(removed),
        "removed_bytes": sum(r.removed_bytes for r in reports),
        "landing_bytes_kept": sum(r.kept_bytes for r in reports),
        "landing_pieces_kept": sum(r.kept_pieces for r in reports),
        "oldest_landing": MetadataValue.text(oldest or "-"),
        "markers_compacted": sum(r.compacted for r in reports),
        "hours_retired": sum(len(r.retired_hours) for r in reports),
        "topics": MetadataValue.md(table),
    }


def maintenance_asset(config: PipelineConfig) -> AssetsDefinition:
    @asset(
        name="landing_maintenance",
        group_name="maintenance",
        kinds={"parquet"},
        automation_condition=maintenance_condition(),
        freshness_policy=FreshnessPolicy.time_window(
            fail_window=timedelta(hours=3), warn_window=timedelta(hours=2)
        ),
        description=(
            "Compacts each topic's landing commit markers into a checkpoint, removes landed"
            f" pieces of hours sealed more than {config.landing.retention} ago (the hour files"
            f" are their record) and orphans older than {config.landing.gc_grace}. Hourly."
        ),
    )
    def landing_maintenance(context: AssetExecutionContext, lake: LakeResource):
        from aggregator_assets.ingest.lifecycle import collect_staging, maintain_topic

        store = lake.get_lake()
        reports, failures = [], []
        for topic in config.topics:
            try:
                report = maintain_topic(store, topic.name, config.landing)
            except Exception as exc:  # the other topics still get their pass; reported below
                failures.append(f"{topic.name}: {type(exc).__name__}: {exc}")
                continue
            reports.append(report)
            context.log.info(
                f"{topic.name}: checkpoint {report.generation}, removed {report.removed},"
                f" kept {report.kept_bytes} bytes {report.note}".rstrip()
            )
        metadata = maintenance_metadata(reports, collect_staging(store, config.landing))
        if failures:
            raise Failure(
                description="landing maintenance failed for " + "; ".join(failures),
                metadata=metadata,
            )
        return MaterializeResult(metadata=metadata)

    return landing_maintenance
