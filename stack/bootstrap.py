"""Idempotent set-up of what the app needs around it: schema, AWS resources, search attributes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog
from alembic import command
from alembic.config import Config

from ville.aws import aws_client
from ville.settings import Settings

log = structlog.get_logger(__name__)
ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    """Alembic configuration for `database_url`."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url)
    return cfg


def migrate(database_url: str) -> None:
    """Bring the schema to the latest revision (safe to run twice)."""
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), "heads")
    log.info("db.migrated")


def ensure_aws_resources(settings: Settings) -> None:
    """Create the bucket, the verified sender and the attendance queue when missing."""
    s3: Any = aws_client(settings, "s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if settings.s3_bucket not in existing:
        s3.create_bucket(
            Bucket=settings.s3_bucket,
            CreateBucketConfiguration={"LocationConstraint": settings.aws_region},
        )
    ses: Any = aws_client(settings, "ses")
    ses.verify_email_identity(EmailAddress=settings.ses_sender)
    if settings.sqs_attendance_queue_url is None:
        sqs: Any = aws_client(settings, "sqs")
        settings.sqs_attendance_queue_url = sqs.create_queue(QueueName="ville-attendance")["QueueUrl"]
    log.info("aws.ready", bucket=settings.s3_bucket)
