"""A tiny HTTP proxy in front of moto's S3 server that fails chosen requests, for fault tests.

`fail` decides per request: it gets (method, path) and returns an HTTP status to answer with
(e.g. 503 SlowDown) or None to forward the request to the real endpoint untouched.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_ERROR_CODES = {500: "InternalError", 503: "SlowDown"}
_HOP_HEADERS = {"connection", "transfer-encoding", "keep-alive", "content-length"}


class FaultyS3Proxy:
    def __init__(self, upstream: str, fail: Callable[[str, str], int | None]):
        self.upstream = urlsplit(upstream)
        self.fail = fail
        self.requests: list[tuple[str, str, int]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    self.rfile.readline()
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self) -> None:
                body = self._body()
                status = proxy.fail(self.command, self.path)
                if status is not None:
                    code = _ERROR_CODES.get(status, "InternalError")
                    error = f"<Error><Code>{code}</Code><Message>injected</Message></Error>"
                    self._reply(status, {"Content-Type": "application/xml"}, error.encode())
                else:
                    upstream = http.client.HTTPConnection(
                        proxy.upstream.hostname, proxy.upstream.port, timeout=30
                    )
                    headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS
                    }
                    if body or self.command in ("PUT", "POST"):
                        headers["Content-Length"] = str(len(body))
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    out = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS}
                    if self.command == "HEAD":
                        out["Content-Length"] = response.getheader("Content-Length", "0")
                    self._reply(response.status, out, data)
                    upstream.close()
                    status = response.status
                proxy.requests.append((self.command, self.path, status))

            def _reply(self, status: int, headers: dict, data: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultyS3Proxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def injected(self) -> int:
        return sum(1 for *_, status in self.requests if status >= 500)
