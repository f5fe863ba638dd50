"""Landing lifecycle (issue #16.1): compaction, retention and GC against the real broker, on a
local lake and on moto S3. Every test compares the lake with what was produced, or with a lake
that kept its whole landing log."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from dagster import RetryPolicy

from aggregator_assets.assets.raw import raw_asset
from aggregator_assets.config import LandingSettings
from aggregator_assets.ingest.commits import hour_dir, hour_of_dir
from aggregator_assets.ingest.hours import build_hour
from aggregator_assets.ingest.landing import Landing, compute_cover
from aggregator_assets.ingest.lifecycle import collect_staging, maintain_topic
from aggregator_assets.lake import Lake
from aggregator_assets.lake.storage import STAGING_DIR
from aggregator_assets.sensors import SensorSettings, TopicCursor, plan_tick
from aggregator_assets_tests.ingest.helpers import (
    BASE_HOUR,
    Sent,
    event,
    lake_contents,
    materialize_raw,
    mixed_records,
    ms,
    new_topic,
    offsets,
    pipeline,
    produce,
)
from aggregator_assets_tests.ingest.lifecycle_helpers import (
    InterferingLake,
    build,
    hour_tables,
    land,
    landed_hours,
    landing_files,
)
from aggregator_assets_tests.processes import kill_when_ready
from aggregator_assets_tests.reliability.common import range_tags

SETTINGS = LandingSettings(retention="3d", gc_grace="6h")
NO_RETENTION = LandingSettings(retention="3650d")  # the test hours are days old
KEY = "%Y-%m-%d-%H:%M"
HOURS = [BASE_HOUR + timedelta(hours=h) for h in range(3)]


def later(hours: float) -> datetime:
    """A clock `hours` ahead of now: pieces written now look that old to maintenance."""
    return datetime.now(timezone.utc) + timedelta(hours=hours)


@pytest.fixture(params=["local_lake", "s3_lake"])
def lake_resource(request):
    return request.getfixturevalue(request.param)


def reading_plan(cover) -> dict:
    """What a build reads: per hour, which slices from which offset; and where landing ends."""
    hours = cover.hours()
    plan = {
        hour: [(c.slice, c.take_from) for c in cover.slices_for(*hour)] for hour in sorted(hours)
    }
    return {"hours": plan, "ends": cover.ends}


def _exactly_once(lake, topic, sent):
    raw, quarantine = lake_contents(lake, topic)
    seen = Counter(offsets(raw) + offsets(quarantine))
    per_partition = Counter(s.partition for s in sent)
    assert set(seen) == {(p, o) for p, n in per_partition.items() for o in range(n)}
    assert max(seen.values()) == 1, "a record is in the lake twice"


def test_compaction_keeps_the_cover_and_the_markers_a_reader_of_markers_needs(kafka, lake_resource):
    """Markers go into a checkpoint, and are deleted a pass later, except a contiguous tail of
    each partition's chain: its last slice and every slice with a piece in an hour not sealed
    yet, so that markers alone (the live views read them with SQL) still give the landing's
    end and every record no hour file holds."""
    topic = new_topic(kafka)
    config = pipeline(topic)
    lake = lake_resource.get_lake()
    sent = mixed_records(hours=3, per_hour=30)
    for i in range(0, len(sent), 15):  # many runs: many markers
        produce(kafka, topic, sent[i : i + 15])
        land(kafka, lake, config, slice_records=1000)
    landing = Landing(lake, topic)
    before = landing.cover()
    markers = landing_files(lake, topic, "commits")
    assert len(markers) >= 18
    build(lake, config, HOURS[:1])  # hour 10 sealed; 11 and 12 (and late quarantine) not

    first = maintain_topic(lake, topic, NO_RETENTION)
    assert (first.generation, first.compacted) == (1, len(markers))
    assert not first.removed, "markers go a generation late, pieces are young and kept"
    assert reading_plan(landing.cover()) == reading_plan(before)
    second = maintain_topic(lake, topic, NO_RETENTION)
    assert 0 < second.removed["markers"] < len(markers)
    assert [g for g, _ in landing.checkpoints()] == [1]
    assert reading_plan(landing.cover()) == reading_plan(before)

    # Code written before checkpoints (compute_cover over the markers) gets the whole cover.
    assert reading_plan(compute_cover(landing.commits())) == reading_plan(before)
    from_markers = compute_cover(list(landing.commits()))  # markers alone; raises on a gap
    assert from_markers.ends == before.ends, "the last slice of each partition keeps its marker"
    unsealed = {(kind, hour) for kind, hour in before.hours() if hour_of_dir(hour) != HOURS[0]}
    for kind, hour in unsealed:
        wanted = {c.slice for c in before.slices_for(kind, hour)}
        assert wanted <= {c.slice for c in from_markers.slices_for(kind, hour)}

    produce(kafka, topic, [Sent(1, event("d1", HOURS[1], 7.0), ms(HOURS[1]), HOURS[1], True)])
    land(kafka, lake, config)  # a run after compaction lands only the new record
    assert landing.cover().through[1] == before.through[1] + 1
    build(lake, config, landed_hours(lake, topic))
    _exactly_once(lake, topic, [*sent, Sent(1, b"", 0, None, True)])


def test_retention_keeps_unsealed_hours_and_late_data_still_lands_once(
    kafka, lake_resource, tmp_path
):
    """Hours 10 and 11 are sealed and past retention, hour 12 is never built. Late records for
    hour 10 arrive after its pieces were removed: the rebuilt hour is its sealed file plus the
    new slice, equal to the file of a lake that kept every piece."""
    topic = new_topic(kafka)
    config = pipeline(topic)
    lake = lake_resource.get_lake()
    reference = Lake(str(tmp_path / "reference"))
    sent = [s for s in mixed_records(hours=3) if s.valid]  # raw hours only: 10, 11, 12
    produce(kafka, topic, sent)
    land(kafka, lake, config)
    build(lake, config, HOURS[:2])
    raw_pieces = {h: landing_files(lake, topic, f"raw/{hour_dir(h)}") for h in HOURS}
    assert all(raw_pieces.values())

    retired = maintain_topic(lake, topic, SETTINGS)
    assert {f"raw {hour_dir(h)}" for h in HOURS[:2]} <= set(retired.retired_hours)
    assert f"raw {hour_dir(HOURS[2])}" not in retired.retired_hours
    removed = maintain_topic(lake, topic, SETTINGS, now=later(7))
    assert removed.removed["pieces"] >= len(raw_pieces[HOURS[0]]) + len(raw_pieces[HOURS[1]])
    for hour in HOURS[:2]:
        assert landing_files(lake, topic, f"raw/{hour_dir(hour)}") == []
    assert landing_files(lake, topic, f"raw/{hour_dir(HOURS[2])}") == raw_pieces[HOURS[2]]
    # Emptied hour folders go too (S3: their marker objects), so listings stay short.
    assert not lake.exists(f"_landing/{topic}/raw/{hour_dir(HOURS[0])}")

    late_at = HOURS[0] + timedelta(minutes=9)
    late = [Sent(p, event("late", late_at, 1.0 + p), ms(later(0)), late_at, True) for p in (0, 2)]
    produce(kafka, topic, late)
    land(kafka, lake, config)
    build(lake, config, HOURS)
    _exactly_once(lake, topic, [*sent, *late])

    land(kafka, reference, config, slice_records=1000)
    build(reference, config, HOURS)
    assert hour_tables(lake, topic, HOURS) == hour_tables(reference, topic, HOURS)


def test_gc_removes_orphans_and_staging_only_after_the_grace_period(
    kafka, lake_resource, monkeypatch
):
    topic = new_topic(kafka, partitions=1)
    config = pipeline(topic)
    lake = lake_resource.get_lake()
    produce(kafka, topic, [s for s in mixed_records(hours=1) if s.partition == 0])
    land(kafka, lake, config)
    committed = set(landing_files(lake, topic, "raw"))

    def more(n: int) -> list[Sent]:
        return [Sent(0, event("d", HOURS[0], 2.0), ms(HOURS[0]), HOURS[0], True)] * n

    produce(kafka, topic, more(3))
    write_bytes = Lake.write_bytes

    def killed_before_the_marker(self, relative, data, replaces=None):
        if "/commits/" in relative:
            raise KeyboardInterrupt("killed")
        return write_bytes(self, relative, data, replaces)

    monkeypatch.setattr(Lake, "write_bytes", killed_before_the_marker)
    with pytest.raises(KeyboardInterrupt):
        land(kafka, lake, config)
    monkeypatch.undo()
    orphans = set(landing_files(lake, topic, "raw")) - committed
    assert orphans, "the killed slice left its pieces"
    lake.write_bytes(f"{STAGING_DIR}/leftover.parquet", b"half a file")
    old_enough = later(SETTINGS.grace_period.total_seconds() / 3600 + 1)

    assert maintain_topic(lake, topic, SETTINGS).removed == {}
    assert collect_staging(lake, SETTINGS) == 0, "young: maybe a write in progress"
    maintain_topic(lake, topic, SETTINGS, now=old_enough)
    assert orphans <= set(landing_files(lake, topic, "raw")), (
        "an orphan past the landed end is kept: the next run lands that slice again"
    )
    produce(kafka, topic, more(2))
    land(kafka, lake, config)  # one slice of all 5 records: the orphan is now behind the end
    gone = maintain_topic(lake, topic, SETTINGS, now=old_enough)
    assert gone.removed["pieces"] == len(orphans)
    assert not orphans & set(landing_files(lake, topic, "raw"))
    assert committed <= set(landing_files(lake, topic, "raw")), "hour 10 was never sealed"
    assert collect_staging(lake, SETTINGS, now=old_enough) >= 1
    assert not lake.exists(f"{STAGING_DIR}/leftover.parquet")

    build(lake, config, landed_hours(lake, topic))
    raw, quarantine = lake_contents(lake, topic)
    seen = Counter(offsets(raw) + offsets(quarantine))
    assert set(seen) == {(0, o) for o in range(len(seen))}
    assert max(seen.values()) == 1


def test_sensor_tick_after_compaction_reads_one_checkpoint_and_asks_for_late_hours(
    kafka, local_lake
):
    topic = new_topic(kafka, partitions=1)
    config = pipeline(topic)
    lake = CountingLake(local_lake.url)
    sent = [s for s in mixed_records(hours=3) if s.partition == 0]
    for i in range(0, len(sent), 5):  # many small runs: many markers
        produce(kafka, topic, sent[i : i + 5])
        land(kafka, lake, config, slice_records=1000)
    build(lake, config, landed_hours(lake, topic))
    ends = Landing(lake, topic).cover().through
    tick = SensorSettings(max_requests_per_tick=1000)
    now = datetime.now(timezone.utc)
    first = plan_tick(config.topics[0], config, lake, ends, TopicCursor(), now, tick)
    reasons = {r.tags["aggregator/reason"] for r in first.run_requests}
    assert reasons == {"empty hour"}, "every hour with data is built"
    again = plan_tick(config.topics[0], config, lake, ends, first.cursor, now, tick)

    for clock in (None, later(7)):  # compact and retire, then remove what that made redundant
        maintain_topic(lake, topic, SETTINGS, now=clock)
    assert len(landing_files(lake, topic, "commits")) == 1, "the last slice's marker stays"
    lake.calls.clear()
    quiet = plan_tick(config.topics[0], config, lake, ends, first.cursor, now, tick)
    assert [r.run_key for r in quiet.run_requests] == [r.run_key for r in again.run_requests]
    assert quiet.cursor == again.cursor
    listed = [p for op, p in lake.calls if op == "list"]
    reads = [p for op, p in lake.calls if op == "read"]
    assert reads == [Landing(lake, topic).checkpoints()[-1][1]], "only the checkpoint is read"
    assert len(listed) == 3, "checkpoints, markers, checkpoints again"

    late_at = BASE_HOUR + timedelta(minutes=3)
    produce(kafka, topic, [Sent(0, event("d9", late_at, 9.0), ms(later(0)), late_at, True)])
    land(kafka, lake, config)
    plan = plan_tick(config.topics[0], config, lake, {0: ends[0] + 1}, quiet.cursor, now, tick)
    requests = {r.partition_key: r.tags["aggregator/reason"] for r in plan.run_requests}
    assert requests[BASE_HOUR.strftime(KEY)] == "late"
    assert set(requests.values()) == {"late", "empty hour"}


class CountingLake(Lake):
    """A local lake that records its listings and whole-file reads."""

    def __init__(self, url: str):
        super().__init__(url)
        self.calls: list[tuple[str, str]] = []

    def list_files(self, relative: str, suffix: str = "", recursive: bool = False) -> list[str]:
        self.calls.append(("list", relative))
        return super().list_files(relative, suffix, recursive)

    def read_bytes(self, relative: str) -> bytes:
        self.calls.append(("read", relative))
        return super().read_bytes(relative)


def test_a_run_whose_pieces_a_pass_removed_meanwhile_is_retried_and_succeeds(
    kafka, local_lake, monkeypatch
):
    """The run computed its cover; two passes then retire the hour and delete its pieces. The
    run's read fails as transient, its retry reads the new checkpoint and rebuilds the hour from
    its sealed file."""
    topic = new_topic(kafka)
    config = pipeline(topic)
    lake = local_lake.get_lake()
    produce(kafka, topic, mixed_records(hours=2))
    tags = range_tags(HOURS[0], HOURS[1])
    asset = raw_asset(config.topics[0], config, retry_policy=RetryPolicy(max_retries=2, delay=0.1))
    assert materialize_raw(asset, kafka, local_lake, tags=tags).success
    before = hour_tables(lake, topic, HOURS[:2])
    passes = []

    def passes_then_build(*args, **kwargs):
        if not passes:
            passes.extend(maintain_topic(lake, topic, SETTINGS, now=t) for t in (None, later(7)))
        return build_hour(*args, **kwargs)

    monkeypatch.setattr("aggregator_assets.assets.raw.build_hour", passes_then_build)
    result = materialize_raw(asset, kafka, local_lake, tags=tags)
    assert result.success
    assert passes[1].removed["pieces"] > 0
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == 1, "the first attempt read a removed piece"
    assert hour_tables(lake, topic, HOURS[:2]) == before


@pytest.mark.parametrize("lock", [True, False], ids=["create-if-absent", "overwritten"])
def test_two_passes_from_one_checkpoint_lose_nothing(
    kafka, local_lake, tmp_path, monkeypatch, lock
):
    """Pass B snapshots the landing; before B publishes, a run lands more and pass A publishes
    the same generation from the same checkpoint. B's publish is refused (a local lake locks the
    folder), or B overwrites A's checkpoint (S3 checks existence one request before its copy):
    either way no marker or piece anything needs is deleted."""
    topic = new_topic(kafka)
    config = pipeline(topic)
    lake = local_lake.get_lake()
    sent = mixed_records(hours=3)
    produce(kafka, topic, sent[:50])
    land(kafka, lake, config)
    build(lake, config, HOURS[:1])
    maintain_topic(lake, topic, SETTINGS)  # generation 1: both passes start from it
    produce(kafka, topic, sent[50:90])
    land(kafka, lake, config)
    if not lock:
        write_bytes = Lake.write_bytes
        monkeypatch.setattr(
            Lake, "write_bytes", lambda self, rel, data, replaces=None: write_bytes(self, rel, data)
        )

    def run_and_pass_a() -> None:
        produce(kafka, topic, sent[90:])
        land(kafka, lake, config)
        maintain_topic(lake, topic, SETTINGS, now=later(7))

    b = InterferingLake(lake.root, 1, run_and_pass_a, calls=("write_bytes",))  # B publishes
    result = maintain_topic(b, topic, SETTINGS, now=later(7))
    assert result.note if lock else result.generation == 2
    monkeypatch.undo()
    for _ in range(3):
        maintain_topic(lake, topic, SETTINGS, now=later(7))
    hours = landed_hours(lake, topic)
    build(lake, config, hours)
    _exactly_once(lake, topic, sent)
    reference = Lake(str(tmp_path / "reference"))
    land(kafka, reference, config, slice_records=1000)
    build(reference, config, hours)
    assert hour_tables(lake, topic, hours) == hour_tables(reference, topic, hours)


@pytest.mark.parametrize("where", ["publish", "delete"])
def test_a_pass_killed_mid_way_leaves_a_landing_the_next_pass_finishes(
    kafka, local_lake, tmp_path, where
):
    topic = new_topic(kafka)
    config = pipeline(topic)
    lake = local_lake.get_lake()
    sent = mixed_records(hours=3)
    produce(kafka, topic, sent[:60])
    land(kafka, lake, config)
    build(lake, config, HOURS)
    maintain_topic(lake, topic, SETTINGS)  # retires the sealed hours: the next pass deletes
    produce(kafka, topic, sent[60:])
    land(kafka, lake, config)
    markers = len(landing_files(lake, topic, "commits"))
    ready = tmp_path / "ready"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aggregator_assets_tests.ingest.maintenance_child",
            lake.root,
            topic,
            later(7).isoformat(),
            where,
            str(ready),
        ]
    )
    kill_when_ready(child, ready, timeout_s=60)
    landing = Landing(lake, topic)
    generations = [g for g, _ in landing.checkpoints()]
    assert generations == ([1] if where == "publish" else [1, 2])
    assert lake.list_files(STAGING_DIR) or where == "delete", "the staged checkpoint is left"
    for clock in (later(7), later(7)):
        maintain_topic(lake, topic, SETTINGS, now=clock)
    assert collect_staging(lake, SETTINGS, now=later(7)) >= (where == "publish")
    assert len(landing_files(lake, topic, "commits")) < markers
    assert compute_cover(list(landing.commits())).ends == landing.cover().ends
    hours = landed_hours(lake, topic)
    build(lake, config, hours)
    _exactly_once(lake, topic, sent)
