"""The live tests' broker listens in the port range reserved for them (19500-19599), so they can
run beside other suites on one machine."""

from __future__ import annotations

import os

import pytest

from aggregator_assets.demo.broker import LocalBroker


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    port = int(os.environ.get("LIVE_TEST_KAFKA_PORT", "19501"))
    broker = LocalBroker(port, log_path=tmp_path_factory.mktemp("broker") / "tansu.log").start()
    yield broker
    broker.stop()
