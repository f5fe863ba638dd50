"""The Schema Registry client against hostile and silent registries (tiny local HTTP servers).

A registry, or a proxy in front of it, may echo the request's headers (Authorization included)
in its error body or status line; run logs must never show them. A registry that accepts
connections and never answers must fail the run within the client's timeout.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dagster import DagsterInstance, EnvVar, materialize

from aggregator_assets.assets.raw import raw_asset
from aggregator_assets.ingest.registry_client import SchemaRegistryClient, SchemaRegistryError
from aggregator_assets.resources import LakeResource, SchemaRegistryResource
from aggregator_assets_tests.avro.test_avro_ingest import pipeline as avro_pipeline
from aggregator_assets_tests.reliability.common import failure_text, files_under, run_traces

USER = "api-key"


class EchoingRegistry:
    """Answers every request with `status`, echoing the request headers in body and reason."""

    def __init__(self, status: int, json_body: bool = True):
        self.seen: list[dict[str, str]] = []
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                headers = dict(self.headers.items())
                echo.seen.append(headers)
                text = json.dumps(headers)
                body = (
                    json.dumps({"error_code": status * 100 + 1, "message": f"bad {text}"})
                    if json_body
                    else f"<html>denied {text}</html>"
                ).encode()
                self.send_response(status, f"Denied {headers.get('Authorization')}")
                self.send_header("X-Echo", headers.get("Authorization", ""))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def password() -> str:
    return f"pw-{secrets.token_hex(12)}"


def secret_forms(password: str) -> list[str]:
    token = base64.b64encode(f"{USER}:{password}".encode()).decode()
    return [password, token, f"{USER}:{password}"]


def whole_error(error: BaseException) -> str:
    """The error as a log shows it: message, traceback and every chained exception."""
    return "".join(traceback.format_exception(error))


@pytest.mark.parametrize(("status", "json_body"), [(401, True), (500, True), (403, False)])
def test_registry_errors_never_repeat_what_the_registry_echoed(password, status, json_body):
    registry = EchoingRegistry(status, json_body)
    try:
        client = SchemaRegistryClient(registry.url, USER, password, timeout_s=5)
        with pytest.raises(SchemaRegistryError) as raised:
            client.check()
    finally:
        registry.close()
    assert registry.seen[0]["Authorization"].startswith("Basic "), "credentials were sent"
    shown = whole_error(raised.value)
    assert f"HTTP {status}" in shown
    if json_body:
        assert f"error_code {status * 100 + 1}" in shown, "the registry's error code is kept"
    for form in secret_forms(password):
        assert form not in shown
    assert raised.value.transient is (status >= 500)


def test_credentials_in_the_registry_url_never_reach_a_message(password):
    registry = EchoingRegistry(401)
    try:
        client = SchemaRegistryClient(registry.url.replace("//", f"//{USER}:{password}@"))
        with pytest.raises(SchemaRegistryError) as raised:
            client.check()
    finally:
        registry.close()
    expected = base64.b64encode(f"{USER}:{password}".encode()).decode()
    assert registry.seen[0]["Authorization"] == f"Basic {expected}", "used as basic auth"
    assert registry.url in str(raised.value)
    for form in secret_forms(password):
        assert form not in whole_error(raised.value) and form not in client.url


def test_an_echoing_registry_leaks_nothing_into_a_run(kafka, tmp_path, monkeypatch, password):
    """Through Dagster, with the password from EnvVar: no event, run record or file holds it."""
    monkeypatch.setenv("SCHEMA_REGISTRY_PASSWORD", password)
    home, lake_dir = tmp_path / "dagster_home", tmp_path / "lake"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    config = avro_pipeline(f"avro-{uuid.uuid4().hex[:8]}")
    registry = EchoingRegistry(401)
    resource = SchemaRegistryResource(
        url=registry.url, username=USER, password=EnvVar("SCHEMA_REGISTRY_PASSWORD")
    )
    try:
        with DagsterInstance.from_config(str(home)) as instance:
            result = materialize(
                [raw_asset(config.topics[0], config, retry_policy=None)],
                partition_key="2026-11-20-10:00",
                resources={
                    "kafka": kafka,
                    "lake": LakeResource(url=str(lake_dir)),
                    "schema_registry": resource,
                },
                instance=instance,
                raise_on_error=False,
            )
            assert not result.success
            assert "answered HTTP 401" in failure_text(result)
            traces = run_traces(instance, result.run_id)
    finally:
        registry.close()
    assert registry.seen, "the run asked the registry"
    traces += files_under([home, lake_dir])
    leaks = [where for where, data in traces for f in secret_forms(password) if f.encode() in data]
    assert not leaks, f"a credential leaked into {leaks}"


def test_a_registry_that_never_answers_fails_within_the_timeout(black_hole):
    client = SchemaRegistryClient(f"http://{black_hole}", timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(SchemaRegistryError, match=r"did not answer within 0\.5s") as raised:
        client.check()
    assert time.monotonic() - started < 3
    assert raised.value.transient, "a silent registry may come back: the run is retried"
