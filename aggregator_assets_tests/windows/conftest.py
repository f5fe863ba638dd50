"""Fixtures of the windows tests: the demo config, local and S3 (moto) lakes."""

from __future__ import annotations

import socket

import boto3
import pytest

from aggregator_assets.config import PipelineConfig, load_pipeline_config
from aggregator_assets.resources.lake import LakeResource, S3Settings


@pytest.fixture(scope="session")
def pipeline_config() -> PipelineConfig:
    return load_pipeline_config()


@pytest.fixture
def local_lake(tmp_path) -> LakeResource:
    return LakeResource(url=str(tmp_path / "lake"))


@pytest.fixture(scope="session")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_lake(moto_endpoint, request) -> LakeResource:
    bucket = f"lake-{abs(hash(request.node.name)) % 10**8}"
    s3 = S3Settings(
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    return LakeResource(url=f"s3://{bucket}/lake", s3=s3)
