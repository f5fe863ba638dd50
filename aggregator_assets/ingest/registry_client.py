"""REST client of a Confluent-compatible Schema Registry, with a per-run cache of schemas.

Kept free of Dagster so the landing worker process imports it quickly; the Dagster resource
that configures it lives in aggregator_assets/resources/schema_registry.py.

Error messages end up in run logs, so they never carry what the registry sent back: a registry
(or a proxy in front of it) may echo the request's `Authorization` header in its body or
status line. A failure names the registry (without any user:password in its URL), the request,
the HTTP status and the Confluent `error_code` number, nothing else.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class SchemaRegistryError(RuntimeError):
    """The registry could not be used (unreachable, timeout, refused credentials, 5xx).

    `transient` says whether waiting can help: unreachable, timeouts, 408, 429 and 5xx can heal
    by themselves; refused credentials and other 4xx answers cannot.
    """

    def __init__(self, message: str, transient: bool = True):
        super().__init__(message)
        self.transient = transient

    def __reduce__(self):
        return type(self), (str(self), self.transient)


def _transient_status(status: int) -> bool:
    return status in (408, 429) or status >= 500


def _split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """(url without user:password@, user, password): credentials never reach a message."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return bare, unquote(parts.username or ""), unquote(parts.password or "")


def _error_code(body: bytes) -> str:
    """` (error_code N)` from a Confluent error body; the body's text is never repeated."""
    try:
        code = json.loads(body).get("error_code")
    except (ValueError, AttributeError):
        return ""
    return f" (error_code {code})" if isinstance(code, int) else ""


class SchemaRegistryClient:
    """REST client with a per-instance cache of schemas by id (one instance per run)."""

    def __init__(
        self,
        url: str,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
    ):
        self.url, url_user, url_password = _split_credentials(url.rstrip("/"))
        if username is None and url_user is not None:
            username, password = url_user, url_password
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
                body = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise
            # Not `from exc`: the HTTPError's text holds the server's status line.
            raise SchemaRegistryError(
                f"schema registry {self.url} answered HTTP {exc.code} to {method} {path}"
                f"{_error_code(exc.read(4096))}",
                transient=_transient_status(exc.code),
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SchemaRegistryError(
                f"schema registry {self.url} is unreachable or did not answer within"
                f" {self.timeout_s:g}s ({method} {path}): {type(exc).__name__}"
                f" {getattr(exc, 'reason', exc)}"
            ) from None
        try:
            return json.loads(body)
        except ValueError:
            raise SchemaRegistryError(
                f"schema registry {self.url} answered {method} {path} with a body that is not"
                " JSON: is the URL a Schema Registry?",
                transient=False,
            ) from None

    def check(self) -> None:
        """Fail fast, before anything is fetched or landed, when the registry cannot be used."""
        try:
            self._request("GET", "/subjects")
        except urllib.error.HTTPError:
            raise SchemaRegistryError(
                f"schema registry {self.url}: GET /subjects gave 404", transient=False
            ) from None

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
                            f"schema id {schema_id} is {answer['schemaType']}, not AVRO",
                            transient=False,
                        )
                    self._schemas[schema_id] = json.loads(answer["schema"])
            return self._schemas[schema_id]

    def register(self, subject: str, schema: dict) -> int:
        """Register `schema` under `subject` (e.g. '<topic>-value'); returns its id."""
        try:
            answer = self._request(
                "POST", f"/subjects/{subject}/versions", {"schema": json.dumps(schema)}
            )
        except urllib.error.HTTPError:
            raise SchemaRegistryError(
                f"schema registry {self.url}: no subject API", transient=False
            ) from None
        return int(answer["id"])
