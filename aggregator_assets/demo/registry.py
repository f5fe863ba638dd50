"""A small in-memory stand-in for a Confluent Schema Registry, for the demo, tests and benchmarks.

No Schema Registry distribution installs here, so this speaks the part of the registry's REST
API that producers and our decoder use, on 127.0.0.1 in a background thread:
`POST /subjects/{subject}/versions` (returns {"id": n}; the same schema keeps its id),
`GET /schemas/ids/{id}` (returns {"schema": "..."}, or 404 with error_code 40403) and
`GET /subjects`. It counts requests by path, so tests can prove one fetch per schema id per run.
Against a real registry nothing changes but the URL (and credentials): see
`aggregator_assets.resources.schema_registry`.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class LocalSchemaRegistry:
    """`url` is what SchemaRegistryResource.url takes; `requests` counts 'METHOD /path'."""

    def __init__(self, port: int = 0, first_id: int = 1):
        self.schemas: dict[int, str] = {}
        self.subjects: dict[str, list[int]] = {}
        self.requests: Counter = Counter()
        self._next_id = first_id
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> LocalSchemaRegistry:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def register(self, subject: str, schema: str) -> int:
        canonical = json.dumps(json.loads(schema), sort_keys=True)
        with self._lock:
            known = next((i for i, s in self.schemas.items() if s == canonical), None)
            if known is None:
                known, self._next_id = self._next_id, self._next_id + 1
                self.schemas[known] = canonical
            versions = self.subjects.setdefault(subject, [])
            if known not in versions:
                versions.append(known)
            return known

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                registry.requests[f"GET {self.path}"] += 1
                parts = self.path.strip("/").split("/")
                if parts == ["subjects"]:
                    return self._send(200, sorted(registry.subjects))
                if len(parts) == 3 and parts[:2] == ["schemas", "ids"] and parts[2].isdigit():
                    schema = registry.schemas.get(int(parts[2]))
                    if schema is not None:
                        return self._send(200, {"schema": schema})
                    return self._send(404, {"error_code": 40403, "message": "Schema not found"})
                return self._send(404, {"error_code": 404, "message": "HTTP 404 Not Found"})

            def do_POST(self) -> None:
                registry.requests[f"POST {self.path}"] += 1
                parts = self.path.strip("/").split("/")
                if len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions":
                    length = int(self.headers.get("Content-Length", 0))
                    body = json.loads(self.rfile.read(length))
                    return self._send(200, {"id": registry.register(parts[1], body["schema"])})
                return self._send(404, {"error_code": 404, "message": "HTTP 404 Not Found"})

        return Handler
