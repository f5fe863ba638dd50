"""Provisional windows from the live tail equal the sealed hour's windows for every window that
was closed when they were computed, also for an hour reopened by late records."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyarrow as pa

from aggregator_assets.ingest.hours import build_hour
from aggregator_assets.ingest.landing import Landing
from aggregator_assets.live.tail import tail_topic
from aggregator_assets.live.windows import CLOSED_COLUMN, provisional_file
from aggregator_assets.windows.hourly import build_window_hour
from aggregator_assets_tests.ingest.helpers import new_topic, produce
from aggregator_assets_tests.live.helpers import HOUR, now_hour, records_between, windowed_pipeline


def _tail(kafka, store, config):
    with kafka.consumer() as consumer:
        return tail_topic(consumer, store, config.topics[0], config)


def _seal(store, topic, window, hours):
    landing = Landing(store, topic.name)
    for hour in hours:
        build_hour(store, landing, topic, hour, landing.cover())
    return pa.concat_tables([build_window_hour(store, topic, window, h).windows for h in hours])


def _start(table: pa.Table) -> list:
    return table["window_start"].to_pylist()


def _compare(store, topic, window, hours) -> tuple[int, int]:
    """Seal `hours`, then check every closed provisional window against the sealed one;
    returns (closed, open) counts."""
    provisional = store.read_table(provisional_file(topic, window))
    sealed = _seal(store, topic, window, hours)
    keys = [topic.key_field, *topic.dimensions, "window_start"]
    by_key = {tuple(r[k] for k in keys): r for r in sealed.to_pylist()}
    closed = opened = 0
    for row in provisional.to_pylist():
        if row.pop(CLOSED_COLUMN):
            closed += 1
            assert by_key[tuple(row[k] for k in keys)] == row  # every statistic, to the bit
        else:
            opened += 1
    return closed, opened


def test_provisional_windows_equal_sealed_ones_once_closed(kafka, local_lake):
    store = local_lake.get_lake()
    name = new_topic(kafka)
    config = windowed_pipeline(name, lateness="5m")
    topic = config.topics[0]
    now = datetime.now(timezone.utc)
    h0, current = now_hour() - 2 * HOUR, now_hour()
    recent_from = max(current, now - timedelta(minutes=20))
    produce(
        kafka,
        name,
        records_between(h0, h0 + HOUR, 3000)
        + records_between(recent_from, now - timedelta(seconds=10), 60, seed=1),
    )
    done = _tail(kafka, store, config)
    assert done.watermark is not None and done.lag_records == 0
    for window in topic.windows:
        closed, opened = _compare(
            store,
            topic,
            window,
            sorted({h0, recent_from.replace(minute=0, second=0, microsecond=0)}),
        )
        assert closed >= 12 and opened >= 1, (window.name, closed, opened)

    # Late records reopen the sealed hour h0: provisional = sealed file + live rows.
    produce(kafka, name, records_between(h0 + HOUR / 3, h0 + HOUR / 2, 25, seed=9)[:-2])
    done = _tail(kafka, store, config)
    assert done.landed_records == 25
    for window in topic.windows:
        provisional = store.read_table(provisional_file(topic, window))
        starts = set(_start(provisional))
        assert min(starts) >= h0 and any(s < h0 + HOUR for s in starts)
        closed, _ = _compare(store, topic, window, [h0])
        assert closed >= 12
