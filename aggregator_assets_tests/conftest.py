"""Real services for the tests: the bundled Kafka-protocol broker and moto's S3 server."""

from __future__ import annotations

import os
import uuid

import boto3
import pytest

from aggregator_assets.demo.broker import LocalBroker, free_port
from aggregator_assets.resources import KafkaResource, LakeResource
from aggregator_assets.resources.lake import S3Settings

os.environ.setdefault("DAGSTER_HOME", "")  # materialize() uses an ephemeral instance


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    broker = LocalBroker(log_path=tmp_path_factory.mktemp("broker") / "tansu.log").start()
    yield broker
    broker.stop()


@pytest.fixture
def kafka(broker) -> KafkaResource:
    return KafkaResource(bootstrap_servers=broker.bootstrap, request_timeout_ms=10_000)


@pytest.fixture(scope="session")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_lake(s3_endpoint) -> LakeResource:
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **creds).create_bucket(
        Bucket=bucket
    )
    return LakeResource(
        url=f"s3://{bucket}/lake",
        s3=S3Settings(endpoint_url=s3_endpoint, region_name="us-east-1", **creds),
    )


@pytest.fixture
def local_lake(tmp_path) -> LakeResource:
    return LakeResource(url=str(tmp_path / "lake"))
