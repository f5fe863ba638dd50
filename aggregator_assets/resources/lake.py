"""The lake as a Dagster resource: a local folder by default, or S3."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import ConfigurableResource
from pydantic import Field

if TYPE_CHECKING:
    from aggregator_assets.lake.storage import Lake


class S3Settings(ConfigurableResource):
    """Where S3 is and who we are: the fields of dagster-aws's `S3Resource` that the lake uses,
    under the same names. Declared here because importing dagster-aws costs every process
    that loads the code location about 1.5 s, and Arrow, not boto3, talks to S3."""

    endpoint_url: str | None = Field(default=None, description="A custom S3 endpoint.")
    region_name: str | None = Field(default=None, description="The bucket's region.")
    aws_access_key_id: str | None = Field(default=None, description="Access key ID.")
    aws_secret_access_key: str | None = Field(default=None, description="Secret access key.")
    aws_session_token: str | None = Field(default=None, description="Session token.")
    max_attempts: int = Field(default=5, description="Attempts per S3 call (retries + 1).")


class LakeResource(ConfigurableResource):
    """Where the Parquet lake lives. `url` is a folder path or `s3://bucket/prefix`.

    For S3 the connection settings (endpoint, region, credentials from EnvVar, attempts per
    call) come from the nested `S3Settings`; the two timeouts bound how long a silent endpoint
    can hold a run or a sensor tick.
    """

    url: str = Field(description="Local folder or s3://bucket/prefix of the lake.")
    s3: S3Settings = Field(default_factory=S3Settings)
    s3_connect_timeout_s: float | None = Field(
        default=None, description="S3 connection timeout per attempt (AWS SDK default: 1 s)."
    )
    s3_request_timeout_s: float | None = Field(
        default=None,
        description="Abandon an S3 request after this long without data (SDK default: 3 s);"
        " attempts are `s3.max_attempts`.",
    )

    def get_lake(self) -> Lake:
        from aggregator_assets.lake.storage import Lake, S3Options

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
