"""Code location for the Celery executor test: a test topic's raw asset behind the executor
switch, importable by name so that `dagster-celery` workers can rebuild the job."""

import os

from dagster import Definitions, define_asset_job

from aggregator_assets.assets.raw import raw_asset
from aggregator_assets.environments import executor_for_environment, resources_for_environment
from aggregator_assets_tests.ingest.helpers import pipeline

config = pipeline(os.environ["CELERY_TEST_TOPIC"])

defs = Definitions(
    assets=[raw_asset(config.topics[0], config)],
    jobs=[define_asset_job("raw_job", selection="*")],
    resources=resources_for_environment(),
    executor=executor_for_environment(),
)


def raw_job():
    return defs.resolve_job_def("raw_job")
