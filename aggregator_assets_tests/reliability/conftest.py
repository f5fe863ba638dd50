"""Fixtures of the reliability tests that break things: a broker no other test shares."""

from __future__ import annotations

import pytest

from aggregator_assets.demo.broker import LocalBroker


@pytest.fixture
def private_broker(tmp_path):
    """A broker of this test alone: stopping or restarting it must not touch other tests' topics."""
    broker = LocalBroker(log_path=tmp_path / "broker.log").start()
    yield broker
    broker.stop()
