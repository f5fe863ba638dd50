"""What `make dev` produces and ingests: only hours that hold demo data, and a trip day only when
every ended hour it reads was ingested."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from aggregator_assets.config import load_pipeline_config
from aggregator_assets.demo.ingest import DemoRun, plan, trip_days
from aggregator_assets.demo.stack import Settings, demo_batches
from aggregator_assets.partitions import hours_between

CONFIG = load_pipeline_config()
TRIPS = CONFIG.trips
NOW = datetime(2026, 11, 30, 5, 44, 12, tzinfo=timezone.utc)
SETTINGS = Settings(9092, 3000, 3, 30, Path("data"), Path(".dagster_home"))


def _spans(now: datetime = NOW) -> dict[str, tuple[datetime, datetime]]:
    return {t: (b.start, b.end) for b in demo_batches(SETTINGS, now) for t in b.topics}


def test_demo_covers_the_last_hours_and_the_vehicles_since_before_yesterday():
    spans = _spans()
    end = NOW.replace(second=0)
    assert spans["iot-events"] == (end - timedelta(hours=3), end)
    assert spans["observatory.telemetry"] == spans["iot-events"]
    assert spans["vehicle-can"] == (datetime(2026, 11, 28, 23, tzinfo=timezone.utc), end)


def test_only_closed_hours_with_data_are_ingested():
    runs = plan(CONFIG, _spans(), NOW, TRIPS)
    by_asset = {a: r for r in runs for a in r.assets}
    # 02:44-05:44 holds data in hours 02, 03, 04 and 05; 05 is still open.
    assert (by_asset["raw_iot_events"].first, by_asset["raw_iot_events"].last) == (
        "2026-11-30-02:00",
        "2026-11-30-04:00",
    )
    assert by_asset["windows_observatory_telemetry_1s"] is by_asset["raw_iot_events"]
    vehicle = by_asset["raw_vehicle_can"]
    assert (vehicle.first, vehicle.last) == ("2026-11-28-23:00", "2026-11-30-04:00")
    assert "windows_vehicle_can_1m" in vehicle.assets
    assert by_asset["trip_summaries"] == DemoRun(
        ["trip_summaries", "trip_summaries_external"], "2026-11-29", "2026-11-29"
    )
    assert runs[-1] == DemoRun(["lake_views"])


def test_a_trip_day_needs_every_ended_hour_it_reads():
    day = datetime(2026, 11, 29, tzinfo=timezone.utc)
    hours = hours_between(day - timedelta(hours=1), NOW)
    assert trip_days(hours, TRIPS, NOW) == [day]
    # Without the hour holding the lookback (23:50 the day before), the day is not built.
    assert trip_days(hours[1:], TRIPS, NOW) == []
    # A hole in the lookahead of an ended hour also keeps it out.
    assert trip_days([h for h in hours if h.hour != 3 or h.day != 30], TRIPS, NOW) == []
    # Lookahead hours still running are read as they are: at 02:10 the day is built.
    early = datetime(2026, 11, 30, 2, 10, tzinfo=timezone.utc)
    assert trip_days(hours_between(day - timedelta(hours=1), early), TRIPS, early) == [day]


def test_no_data_no_runs_but_the_views():
    quiet = {t.name: (NOW - timedelta(minutes=10), NOW) for t in CONFIG.topics}
    assert plan(CONFIG, quiet, NOW, TRIPS) == [DemoRun(["lake_views"])]
