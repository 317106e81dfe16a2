"""boto3 clients for S3, SES, SNS and SQS: real AWS, or moto when an endpoint URL is set."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from ville.settings import Settings


def aws_client(settings: Settings, service: str) -> Any:
    """A thread-safe boto3 client for `service` with bounded retries and a connection pool."""
    return boto3.client(
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=32),
    )
