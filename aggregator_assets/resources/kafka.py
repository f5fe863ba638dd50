"""The Kafka cluster as a Dagster resource: bootstrap servers plus optional SASL/SSL.

Secrets (the SASL password, an SSL key password) are meant to be given as `dagster.EnvVar`, so
they never appear in the run config, logs or metadata. The bundled Tansu broker for the demo
and tests needs none of them; a real cluster selects them by configuration.

Every client is connected within `connect_timeout_ms`, whatever the broker does: kafka-python
bounds its bootstrap by time except for a TLS handshake that never completes (SSL or SASL_SSL
against a plaintext listener, or a listener that accepts and never answers), which it would
wait on forever, holding the run and the topic's only ingest slot.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from dagster import ConfigurableResource
from pydantic import Field

from aggregator_assets.ingest.errors import TransientIngestError

if TYPE_CHECKING:  # kafka-python loads when a client is built, not with the code location
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_Client = TypeVar("_Client")
_GRACE_S = 1.0  # kafka-python's own bootstrap timeout fires first when it can


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
        default=10_000,
        description="How long a client may take to connect (TLS and SASL included) before the"
        " run fails with a clear error.",
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
    def consumer(self, **overrides) -> Iterator[KafkaConsumer]:
        """A consumer with no group: the lake, not a consumer group, records what was ingested."""
        from kafka import KafkaConsumer

        consumer = self._connect(
            KafkaConsumer,
            **{
                "group_id": None,
                "enable_auto_commit": False,
                "allow_auto_create_topics": False,  # reading a topic must never create it
                "auto_offset_reset": "none",  # a jump past lost offsets must raise, never skip
                "fetch_max_bytes": self.fetch_max_bytes,
                "max_partition_fetch_bytes": self.max_partition_fetch_bytes,
                "consumer_timeout_ms": self.request_timeout_ms,
            }
            | overrides,
        )
        try:
            yield consumer
        finally:
            consumer.close()

    @contextlib.contextmanager
    def producer(self, **overrides) -> Iterator[KafkaProducer]:
        from kafka import KafkaProducer

        settings = {"linger_ms": 20, "batch_size": 512 * 1024} | overrides
        producer = self._connect(KafkaProducer, **settings)
        try:
            yield producer
        finally:
            producer.close()

    @contextlib.contextmanager
    def admin(self) -> Iterator[KafkaAdminClient]:
        from kafka import KafkaAdminClient

        admin = self._connect(KafkaAdminClient)
        try:
            yield admin
        finally:
            admin.close()

    def _connect(self, client: Callable[..., _Client], **settings) -> _Client:
        """Build a connected client, or raise BrokerUnavailableError within the connect timeout."""
        from kafka.errors import KafkaConnectionError, KafkaTimeoutError

        config = self.client_config() | settings
        timeout_s = config["bootstrap_timeout_ms"] / 1000
        try:
            return _construct_within(client, config, timeout_s)
        except _NoAnswer:
            raise BrokerUnavailableError(
                f"Kafka at {self.bootstrap_servers} did not complete a connection within"
                f" {timeout_s:g}s (security_protocol {self.security_protocol}). A TLS client"
                " (SSL, SASL_SSL) talking to a plaintext listener, or a listener that accepts"
                " and never answers, looks like this: check KAFKA_SECURITY_PROTOCOL and"
                " KAFKA_BOOTSTRAP_SERVERS. Nothing was ingested."
            ) from None
        except (KafkaTimeoutError, KafkaConnectionError) as exc:
            raise BrokerUnavailableError(
                f"cannot reach (or authenticate with) Kafka at {self.bootstrap_servers} within"
                f" {timeout_s:g}s ({type(exc).__name__}: {exc}). Check that the broker is"
                " running, bootstrap_servers is right and security_protocol matches its"
                " listener; nothing was ingested."
            ) from exc


class _NoAnswer(Exception):
    """The client was still connecting when its time was up."""


def _construct_within(client: Callable[..., _Client], config: dict, timeout_s: float) -> _Client:
    """`client(**config)` on a helper thread, given `timeout_s` (plus a grace) to connect.

    When the time is up, the half-built network client (caught through kafka-python's
    `kafka_client` factory setting) is closed: the constructor then gives up and the thread
    ends. The network client of a constructor that failed by itself is closed too (kafka-python
    leaves its network thread running), so a failed connection leaves no thread or socket.
    """
    network_clients: list = []
    make_network_client = client.DEFAULT_CONFIG["kafka_client"]  # type: ignore[attr-defined]

    def tracked_network_client(**kwargs):
        network_clients.append(make_network_client(**kwargs))
        return network_clients[-1]

    outcome: dict = {}

    def build() -> None:
        try:
            outcome["client"] = client(**config, kafka_client=tracked_network_client)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=build, name="kafka-connect", daemon=True)
    thread.start()
    thread.join(timeout_s + _GRACE_S)
    hung = thread.is_alive()
    if hung or "error" in outcome:
        for network_client in network_clients:
            network_client.close()
    if hung:
        thread.join(_GRACE_S)
        if "client" in outcome:  # connected in the very last moment: not ours to keep
            outcome["client"].close()
        raise _NoAnswer
    if "error" in outcome:
        raise outcome["error"]
    return outcome["client"]
