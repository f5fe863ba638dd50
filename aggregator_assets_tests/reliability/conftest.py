"""Fixtures of the reliability tests that break things: a broker no other test shares, and a
listener that accepts connections and never answers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from aggregator_assets.demo.broker import LocalBroker


@pytest.fixture
def private_broker(tmp_path):
    """A broker of this test alone: stopping or restarting it must not touch other tests' topics."""
    broker = LocalBroker(log_path=tmp_path / "broker.log").start()
    yield broker
    broker.stop()


@pytest.fixture
def black_hole() -> Iterator[str]:
    """host:port of a listener that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()
