"""A Confluent-compatible Schema Registry as a Dagster resource, and the client a run uses.

Avro topics carry the Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then
the Avro body. The decoder asks the client for each schema id it meets; the client fetches it
once (`GET /schemas/ids/{id}`) and caches it for the run, so a run makes one request per schema
id, never one per message. A 404 means the id is unknown (those records go to quarantine); any
other failure (unreachable, timeout, 5xx, 401) raises `SchemaRegistryError` and fails the run.

Pointing it at a real registry (Confluent Platform, Confluent Cloud, Redpanda, Apicurio's
Confluent-compatible API, Karapace):

    SchemaRegistryResource(
        url="https://psrc-xxxxx.europe-west3.gcp.confluent.cloud",
        username=EnvVar("SCHEMA_REGISTRY_USERNAME"),   # Confluent Cloud: the API key
        password=EnvVar("SCHEMA_REGISTRY_PASSWORD"),   # Confluent Cloud: the API secret
    )
"""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from aggregator_assets.ingest.registry_client import (
    SchemaRegistryClient,
)


class SchemaRegistryResource(ConfigurableResource):
    """Where Avro topics' writer schemas live. Credentials are meant to be given as EnvVar."""

    url: str = Field(description="Base URL, e.g. http://127.0.0.1:8081.")
    username: str | None = Field(default=None, description="Basic auth user (API key).")
    password: str | None = Field(default=None, description="Basic auth secret; give as EnvVar.")
    timeout_s: float = Field(default=10.0, description="Timeout of each HTTP request.")

    def get_client(self) -> SchemaRegistryClient:
        """A fresh client: its schema cache lives as long as the run that asked for it."""
        return SchemaRegistryClient(self.url, self.username, self.password, self.timeout_s)
