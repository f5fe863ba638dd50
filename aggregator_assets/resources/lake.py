"""The lake as a Dagster resource: a local folder by default, or S3 through dagster-aws."""

from __future__ import annotations

from dagster import ConfigurableResource
from dagster_aws.s3 import S3Resource
from pydantic import Field

from aggregator_assets.lake.storage import Lake, S3Options


class LakeResource(ConfigurableResource):
    """Where the Parquet lake lives. `url` is a folder path or `s3://bucket/prefix`.

    For S3 the connection settings (endpoint, region, credentials from EnvVar, attempts per
    call) come from the nested dagster-aws `S3Resource`, so one set of AWS settings serves
    boto3 and pyarrow alike; the two timeouts bound how long a silent endpoint can hold a run
    or a sensor tick.
    """

    url: str = Field(description="Local folder or s3://bucket/prefix of the lake.")
    s3: S3Resource = Field(default_factory=S3Resource)
    s3_connect_timeout_s: float | None = Field(
        default=None, description="S3 connection timeout per attempt (AWS SDK default: 1 s)."
    )
    s3_request_timeout_s: float | None = Field(
        default=None,
        description="Abandon an S3 request after this long without data (SDK default: 3 s);"
        " attempts are `s3.max_attempts`.",
    )

    def get_lake(self) -> Lake:
        if not self.url.startswith("s3://"):
            return Lake(self.url)
        return Lake(
            self.url,
            S3Options(
                endpoint_url=self.s3.endpoint_url,
                region=self.s3.region_name,
                access_key=self.s3.aws_access_key_id,
                secret_key=self.s3.aws_secret_access_key,
                session_token=self.s3.aws_session_token,
                connect_timeout_s=self.s3_connect_timeout_s,
                request_timeout_s=self.s3_request_timeout_s,
                max_attempts=self.s3.max_attempts,
            ),
        )
