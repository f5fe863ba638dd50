"""Why a raw run failed, and whether running it again can help.

A retry is worth its back-off only when the cause can go away by itself: a broker restarting or
unreachable for a while, a storage brown-out, a registry answering 503. Everything else fails
the same way on every attempt (a topic recreated, offsets deleted, a landing folder altered, a
record the code cannot handle, a wrong bucket or password), so retrying only delays the error
and holds the topic's ingest slot. `is_transient` makes that call explicitly, from the
exception and its causes; the raw asset maps it onto Dagster's retry mechanism.
"""

from __future__ import annotations

import sys

from aggregator_assets.ingest.registry_client import SchemaRegistryError


class IngestError(RuntimeError):
    """Ingestion cannot continue without risking the lake; the message says why and what to do.

    Deterministic: the same run fails the same way again, so it is never retried.
    """


class TransientIngestError(RuntimeError):
    """A cause that can go away by itself (the broker stopped answering): worth retrying."""


# pyarrow reports S3 failures as OSError("... AWS Error <CODE> ..."). These codes do not heal
# by waiting (credentials, bucket, permissions, a request the server refuses); every other S3
# error (throttling, 5xx, timeouts, connection failures) has already outlasted the client's own
# retries and is worth a run retry.
_PERMANENT_S3_CODES = (
    "ACCESS_DENIED",
    "INVALID_ACCESS_KEY_ID",
    "SIGNATURE_DOES_NOT_MATCH",
    "MISSING_AUTHENTICATION_TOKEN",
    "NO_SUCH_BUCKET",
    "NO_SUCH_KEY",
    "HTTP status 400",
    "HTTP status 403",
    "HTTP status 404",
)


def is_transient(exc: BaseException) -> bool:
    """True when retrying the run can succeed where this attempt failed.

    The first exception in the cause chain that has a known kind decides; an unknown kind
    (a bug met on some record, a local file system refusing a write) is deterministic.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        verdict = _kind(current)
        if verdict is not None:
            return verdict
        current = current.__cause__ or current.__context__
    return False


def _kind(exc: BaseException) -> bool | None:
    if isinstance(exc, TransientIngestError):
        return True
    if isinstance(exc, IngestError):
        return False
    if isinstance(exc, SchemaRegistryError):
        return exc.transient
    kafka_errors = sys.modules.get("kafka.errors")  # a KafkaError exists only once it is loaded
    if kafka_errors is not None and isinstance(exc, kafka_errors.KafkaError):
        return bool(exc.retriable)
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    if isinstance(exc, OSError) and "AWS Error" in str(exc):
        return not any(code in str(exc) for code in _PERMANENT_S3_CODES)
    return None
