"""Resources per environment, chosen in one place by $AGGREGATOR_ENV (default: local).

- local: the lake in ./data/lake (or $LAKE_URL), Kafka at $KAFKA_BOOTSTRAP_SERVERS
  (default the demo broker on 127.0.0.1:9092).
- production: every setting from the environment, secrets through EnvVar so they never reach
  the run config, logs or metadata.

The executor is a switch too ($AGGREGATOR_EXECUTOR): `multiprocess` (default) runs a run's steps
in subprocesses of the run; `in_process` runs them in the run's own process (each subprocess
loads the code location again: with many topics, a batch run's two steps cost two loads);
`celery` hands them to `dagster-celery worker` processes on any number of machines through the
broker at $CELERY_BROKER_URL (RabbitMQ or Redis).
"""

from __future__ import annotations

import os

from dagster import EnvVar, ExecutorDefinition
from dagster_duckdb import DuckDBResource

from aggregator_assets.resources import KafkaResource, LakeResource, SchemaRegistryResource
from aggregator_assets.resources.lake import S3Settings

DEFAULT_LAKE = "data/lake"
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


def _s3() -> S3Settings:
    return S3Settings(
        endpoint_url=os.environ.get("S3_ENDPOINT_URL"),
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id=EnvVar("AWS_ACCESS_KEY_ID")
        if "AWS_ACCESS_KEY_ID" in os.environ
        else None,
        aws_secret_access_key=(
            EnvVar("AWS_SECRET_ACCESS_KEY") if "AWS_SECRET_ACCESS_KEY" in os.environ else None
        ),
    )


def _number(name: str, kind: type[int] | type[float] = float) -> float | None:
    """A numeric setting from the environment, or None; a bad value names the variable."""
    text = os.environ.get(name)
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {text!r}") from None


def _kafka() -> KafkaResource:
    secured = os.environ.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    connect_timeout_ms = _number("KAFKA_CONNECT_TIMEOUT_MS", int)
    return KafkaResource(
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP),
        **({"connect_timeout_ms": connect_timeout_ms} if connect_timeout_ms else {}),
        security_protocol=secured,
        sasl_mechanism=os.environ.get("KAFKA_SASL_MECHANISM"),
        sasl_username=os.environ.get("KAFKA_SASL_USERNAME"),
        sasl_password=EnvVar("KAFKA_SASL_PASSWORD")
        if "KAFKA_SASL_PASSWORD" in os.environ
        else None,
        ssl_cafile=os.environ.get("KAFKA_SSL_CAFILE"),
        ssl_certfile=os.environ.get("KAFKA_SSL_CERTFILE"),
        ssl_keyfile=os.environ.get("KAFKA_SSL_KEYFILE"),
        ssl_password=EnvVar("KAFKA_SSL_PASSWORD") if "KAFKA_SSL_PASSWORD" in os.environ else None,
    )


def _schema_registry() -> SchemaRegistryResource:
    timeout_s = _number("SCHEMA_REGISTRY_TIMEOUT_S")
    return SchemaRegistryResource(
        url=os.environ.get("SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081"),
        **({"timeout_s": timeout_s} if timeout_s else {}),
        username=(
            EnvVar("SCHEMA_REGISTRY_USERNAME") if "SCHEMA_REGISTRY_USERNAME" in os.environ else None
        ),
        password=(
            EnvVar("SCHEMA_REGISTRY_PASSWORD") if "SCHEMA_REGISTRY_PASSWORD" in os.environ else None
        ),
    )


DEFAULT_CELERY_BROKER = "pyamqp://guest@127.0.0.1//"


def executor_for_environment() -> ExecutorDefinition | None:
    """The executor $AGGREGATOR_EXECUTOR names; None keeps Dagster's multiprocess executor."""
    kind = os.environ.get("AGGREGATOR_EXECUTOR", "multiprocess")
    if kind == "multiprocess":
        return None
    if kind == "in_process":  # a run's steps in its own process: one code location load a run
        from dagster import in_process_executor

        return in_process_executor
    if kind == "celery":
        from dagster_celery import celery_executor

        broker = (
            {"env": "CELERY_BROKER_URL"}  # may hold a password: read at run time, never logged
            if "CELERY_BROKER_URL" in os.environ
            else DEFAULT_CELERY_BROKER
        )
        queue = os.environ.get("CELERY_QUEUE", "dagster")
        return celery_executor.configured(
            {"broker": broker, "backend": "rpc://", "config_source": {"task_default_queue": queue}}
        )
    raise ValueError(
        f"AGGREGATOR_EXECUTOR must be multiprocess, in_process or celery, not {kind!r}"
    )


def resources_for_environment() -> dict:
    lake_url = os.environ.get("LAKE_URL", DEFAULT_LAKE)
    return {
        "kafka": _kafka(),
        "lake": LakeResource(
            url=lake_url,
            s3=_s3(),
            s3_connect_timeout_s=_number("S3_CONNECT_TIMEOUT_S"),
            s3_request_timeout_s=_number("S3_REQUEST_TIMEOUT_S"),
        ),
        "schema_registry": _schema_registry(),
        "duckdb": DuckDBResource(database=os.environ.get("DUCKDB_PATH", "data/lake.duckdb")),
    }
