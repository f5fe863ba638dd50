"""Which Kafka timestamps to trust, and where a record goes when its timestamp cannot be trusted.

A record's Kafka timestamp (CreateTime) is whatever its producer set: any int64 of milliseconds.
It decides where a record is placed (a quarantined record's hour), whether an event time is
too far in the future, and whether a record is late. Some values cannot serve: -1 ("no
timestamp"), 0 or negative values, a producer sending microseconds for milliseconds (year
~58000), values past year 9999 that no Python datetime holds, or past the range DuckDB's
timestamps hold. Placed by such a value, a record would fail every run (and stop its
partition) or land in an hour that is never built (never visible, and holding the topic
sensor's cursor).

The rule: a Kafka timestamp is trusted when it is after 1970-01-01T00:00:00Z (> 0 ms) and at
most `max_future_skew` ahead of the clock of the run that lands the record. Any other record
goes to quarantine, before its value is looked at, with reason `invalid_kafka_timestamp`, the
timestamp's exact milliseconds in `detail`, `kafka_timestamp` null (no reader can hold the
value), in the hour the run landed it (never before `partitions_start`): an hour that closes
and is built like any other. The decision is taken once, when the record is landed; rebuilding
an hour re-reads it from the landing log, so the hour files stay deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.compute as pc

from aggregator_assets.ingest.decode import HOUR_COLUMN, DecodedBatch
from aggregator_assets.ingest.decoders import Decoder
from aggregator_assets.ingest.schema import QUARANTINE_SCHEMA, UTC_MS, UTC_US

INVALID_KAFKA_TIMESTAMP = "invalid_kafka_timestamp"
_INT64_MAX = 2**63 - 1
_MS = timedelta(milliseconds=1)


def trusted_timestamps(
    timestamps: pa.ChunkedArray | pa.Array, landed_at: datetime, max_future_skew: timedelta
) -> pa.ChunkedArray | pa.Array:
    """True where a Kafka timestamp (timestamp[ms]) can place its record; see the module rule."""
    millis = timestamps.cast(pa.int64())
    latest = min(_INT64_MAX, _epoch_ms(landed_at) + max_future_skew // _MS)
    return pc.and_(pc.greater(millis, 0), pc.less_equal(millis, latest))


def landing_hour(landed_at: datetime, partitions_start: datetime) -> datetime:
    """The hour a record without a trusted timestamp is quarantined in."""
    hour = landed_at.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    return max(hour, partitions_start)


def quarantine_rows(records: pa.Table, hour: datetime) -> pa.Table:
    """`invalid_kafka_timestamp` quarantine rows, with their hour column, of RECORDS_SCHEMA rows."""
    n = records.num_rows
    columns = {
        "reason": pa.nulls(n, pa.string()).fill_null(INVALID_KAFKA_TIMESTAMP),
        "detail": records["kafka_timestamp"].cast(pa.int64()).cast(pa.string()),
        "kafka_partition": records["kafka_partition"],
        "kafka_offset": records["kafka_offset"],
        "kafka_timestamp": pa.nulls(n, UTC_MS),
        "key": records["key"],
        "value": records["value"],
        "event_time": pa.nulls(n, UTC_US),
        HOUR_COLUMN: pa.nulls(n, UTC_US).fill_null(pa.scalar(hour, UTC_US)),
    }
    return pa.table(columns, schema=QUARANTINE_SCHEMA.append(pa.field(HOUR_COLUMN, UTC_US)))


class KafkaTimestampGuard:
    """A decoder that applies the Kafka-timestamp rule before the value decoder sees a record.

    Only records with a trusted timestamp reach the wrapped decoder (DuckDB cannot even convert
    the extreme ones); the others become quarantine rows, merged back in offset order.
    """

    def __init__(
        self,
        decoder: Decoder,
        partitions_start: datetime,
        max_future_skew: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ):
        self.decoder = decoder
        self.partitions_start = partitions_start
        self.max_future_skew = max_future_skew
        self.clock = clock

    def decode(self, records: pa.Table) -> DecodedBatch:
        landed_at = self.clock()
        trusted = trusted_timestamps(records["kafka_timestamp"], landed_at, self.max_future_skew)
        if pc.all(trusted).as_py() is not False:
            return self.decoder.decode(records)
        decoded = self.decoder.decode(records.filter(trusted))
        untrusted = quarantine_rows(
            records.filter(pc.invert(trusted)), landing_hour(landed_at, self.partitions_start)
        )
        quarantine = pa.concat_tables([decoded.quarantine, untrusted]).sort_by("kafka_offset")
        return DecodedBatch(valid=decoded.valid, quarantine=quarantine)


def _epoch_ms(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=timezone.utc)) // _MS
