"""REST client of a Confluent-compatible Schema Registry, with a per-run cache of schemas.

Kept free of Dagster so the landing worker process imports it quickly; the Dagster resource
that configures it lives in aggregator_assets/resources/schema_registry.py.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
from typing import Any

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class SchemaRegistryError(RuntimeError):
    """The registry could not be used (unreachable, timeout, refused credentials, 5xx)."""


class SchemaRegistryClient:
    """REST client with a per-instance cache of schemas by id (one instance per run)."""

    def __init__(
        self,
        url: str,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
    ):
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._headers = {"Accept": CONTENT_TYPE}
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._schemas: dict[int, dict | list | str | None] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        # Sent to the landing worker process: the cache goes along, the lock cannot.
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _request(self, method: str, path: str, body: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = self._headers | ({"Content-Type": CONTENT_TYPE} if data else {})
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise
            detail = exc.read()[:200].decode(errors="replace")
            raise SchemaRegistryError(
                f"schema registry {self.url} answered {exc.code} to {method} {path}: {detail}"
            ) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SchemaRegistryError(
                f"schema registry {self.url} is unreachable ({method} {path}): {exc}"
            ) from exc

    def check(self) -> None:
        """Fail fast, before anything is fetched or landed, when the registry cannot be used."""
        try:
            self._request("GET", "/subjects")
        except urllib.error.HTTPError as exc:
            raise SchemaRegistryError(
                f"schema registry {self.url}: GET /subjects gave 404"
            ) from exc

    def schema(self, schema_id: int) -> dict | list | str | None:
        """The writer schema (parsed JSON) of `schema_id`, or None when the registry lacks it."""
        with self._lock:
            if schema_id not in self._schemas:
                try:
                    answer = self._request("GET", f"/schemas/ids/{schema_id}")
                except urllib.error.HTTPError:
                    self._schemas[schema_id] = None
                else:
                    if answer.get("schemaType", "AVRO") != "AVRO":
                        raise SchemaRegistryError(
                            f"schema id {schema_id} is {answer['schemaType']}, not AVRO"
                        )
                    self._schemas[schema_id] = json.loads(answer["schema"])
            return self._schemas[schema_id]

    def register(self, subject: str, schema: dict) -> int:
        """Register `schema` under `subject` (e.g. '<topic>-value'); returns its id."""
        try:
            answer = self._request(
                "POST", f"/subjects/{subject}/versions", {"schema": json.dumps(schema)}
            )
        except urllib.error.HTTPError as exc:
            raise SchemaRegistryError(f"schema registry {self.url}: no subject API") from exc
        return int(answer["id"])
