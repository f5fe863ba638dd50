"""The Kafka cluster as a Dagster resource: bootstrap servers plus optional SASL/SSL.

Secrets (the SASL password, an SSL key password) are meant to be given as `dagster.EnvVar`, so
they never appear in the run config, logs or metadata. The bundled Tansu broker for the demo
and tests needs none of them; a real cluster selects them by configuration.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TypeVar

from dagster import ConfigurableResource
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaConnectionError, KafkaTimeoutError
from pydantic import Field

from aggregator_assets.ingest.errors import TransientIngestError

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_Client = TypeVar("_Client")


class BrokerUnavailableError(TransientIngestError):
    """No broker answered in time: transient, so the raw asset's RetryPolicy retries it."""


class KafkaResource(ConfigurableResource):
    bootstrap_servers: str = Field(description="Comma-separated host:port list.")
    security_protocol: str = Field(default="PLAINTEXT", description=" | ".join(SECURITY_PROTOCOLS))
    sasl_mechanism: str | None = Field(default=None, description=" | ".join(SASL_MECHANISMS))
    sasl_username: str | None = None
    sasl_password: str | None = Field(default=None, description="Give as EnvVar.")
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_password: str | None = Field(default=None, description="Give as EnvVar.")
    client_id: str = "aggregator-assets"
    request_timeout_ms: int = 30_000
    connect_timeout_ms: int = Field(
        default=10_000, description="How long to wait for a first broker before failing the run."
    )
    stall_timeout_s: float = Field(
        default=60.0, description="Fail a run when the broker sends nothing for this long."
    )
    fetch_max_bytes: int = 64 * 1024 * 1024
    max_partition_fetch_bytes: int = 16 * 1024 * 1024

    def client_config(self) -> dict:
        """Settings shared by consumer, producer and admin clients (kafka-python names)."""
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise ValueError(f"kafka security_protocol must be one of {SECURITY_PROTOCOLS}")
        if self.sasl_mechanism not in (None, *SASL_MECHANISMS):
            raise ValueError(f"kafka sasl_mechanism must be one of {SASL_MECHANISMS}")
        config: dict = {
            "bootstrap_servers": [s.strip() for s in self.bootstrap_servers.split(",")],
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
            "request_timeout_ms": self.request_timeout_ms,
            "bootstrap_timeout_ms": self.connect_timeout_ms,
        }
        if self.security_protocol.startswith("SASL"):
            config |= {
                "sasl_mechanism": self.sasl_mechanism or "PLAIN",
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password,
            }
        if self.security_protocol.endswith("SSL"):
            config |= {
                "ssl_cafile": self.ssl_cafile,
                "ssl_certfile": self.ssl_certfile,
                "ssl_keyfile": self.ssl_keyfile,
                "ssl_password": self.ssl_password,
            }
        return config

    @contextlib.contextmanager
    def consumer(self) -> Iterator[KafkaConsumer]:
        """A consumer with no group: the lake, not a consumer group, records what was ingested."""
        consumer = self._connect(
            KafkaConsumer,
            group_id=None,
            enable_auto_commit=False,
            allow_auto_create_topics=False,  # reading a topic must never create it
            auto_offset_reset="none",  # a jump past lost offsets must raise, never skip
            fetch_max_bytes=self.fetch_max_bytes,
            max_partition_fetch_bytes=self.max_partition_fetch_bytes,
            consumer_timeout_ms=self.request_timeout_ms,
        )
        try:
            yield consumer
        finally:
            consumer.close()

    @contextlib.contextmanager
    def producer(self, **overrides) -> Iterator[KafkaProducer]:
        settings = {"linger_ms": 20, "batch_size": 512 * 1024} | overrides
        producer = self._connect(KafkaProducer, **settings)
        try:
            yield producer
        finally:
            producer.close()

    @contextlib.contextmanager
    def admin(self) -> Iterator[KafkaAdminClient]:
        admin = self._connect(KafkaAdminClient)
        try:
            yield admin
        finally:
            admin.close()

    def _connect(self, client: Callable[..., _Client], **settings) -> _Client:
        try:
            return client(**self.client_config(), **settings)
        except (KafkaTimeoutError, KafkaConnectionError) as exc:
            raise BrokerUnavailableError(
                f"cannot reach (or authenticate with) Kafka at {self.bootstrap_servers} within"
                f" {self.connect_timeout_ms / 1000:g}s ({type(exc).__name__}: {exc}). Check that"
                " the broker is running and bootstrap_servers is right; nothing was ingested."
            ) from exc
