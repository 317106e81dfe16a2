"""boto3 clients for S3, SES, SNS and SQS: real AWS, or moto when an endpoint URL is set."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from ville.settings import Settings

# A call must give up before the activity that makes it times out (30 s for a payment's receipt): otherwise
# the abandoned call may still deliver after Temporal has started the retry, and the message goes twice.
# Worst case here: 2 attempts x (3 s to connect + 10 s without an answer) = 26 s.
CONNECT_TIMEOUT, READ_TIMEOUT, ATTEMPTS = 3, 10, 2
LONG_POLL_READ_TIMEOUT = 30  # SQS long polls wait up to 20 s for a message


def aws_client(settings: Settings, service: str) -> Any:
    """A thread-safe boto3 client for `service` with short timeouts, bounded retries and a connection pool."""
    return boto3.client(
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=LONG_POLL_READ_TIMEOUT if service == "sqs" else READ_TIMEOUT,
            retries={"total_max_attempts": ATTEMPTS, "mode": "standard"},
            max_pool_connections=32,
        ),
    )
