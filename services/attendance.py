"""Attendance (pointage) coming in: validated record by record, stored once per (child, activity, day)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import structlog
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from domain.invoicing import CATCH_UP_MONTHS
from ville.db import SessionFactory
from ville.models.billing import Activity, Attendance, Child

log = structlog.get_logger(__name__)
MAX_RECORDS = 10_000


class AttendanceRecord(BaseModel):
    """One pointage as schools and centres send it."""

    child_ref: str = Field(pattern=r"^EN-\d{7}$", description="référence de l'enfant, ex. EN-0000123")
    activity_code: str = Field(min_length=2, max_length=40)
    day: date
    registered: bool = True


@dataclass(frozen=True)
class RecordError:
    """Why one record was refused (the others of the batch are kept)."""

    index: int
    field: str
    message: str


@dataclass
class IngestResult:
    """What a batch of records did."""

    accepted: int = 0
    duplicates: int = 0
    errors: list[RecordError] = field(default_factory=list)


class AttendanceIngest:
    """Validates and stores attendance; the same record twice is stored once."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions

    def ingest(self, raw_records: Iterable[Mapping[str, Any]], source: str, today: date) -> IngestResult:
        """Store the valid records, report each invalid one with its field; duplicates are harmless."""
        result = IngestResult()
        parsed: list[tuple[int, AttendanceRecord]] = []
        for i, raw in enumerate(raw_records):
            try:
                parsed.append((i, AttendanceRecord.model_validate(raw)))
            except ValidationError as err:
                first = err.errors()[0]
                result.errors.append(RecordError(i, ".".join(str(p) for p in first["loc"]), first["msg"]))
        if not parsed:
            return result
        oldest = today - timedelta(days=CATCH_UP_MONTHS * 31)
        with self.sessions() as s, s.begin():
            refs = {r.child_ref for _, r in parsed}
            children = {
                ref: (cid, acc)
                for ref, cid, acc in s.execute(select(Child.ref, Child.id, Child.account_id).where(Child.ref.in_(refs)))
            }
            activities = set(s.execute(select(Activity.code)).scalars())
            rows = []
            for i, r in parsed:
                if r.child_ref not in children:
                    result.errors.append(RecordError(i, "child_ref", "enfant inconnu"))
                elif r.activity_code not in activities:
                    result.errors.append(RecordError(i, "activity_code", "activité inconnue"))
                elif r.day > today or r.day < oldest:
                    result.errors.append(RecordError(i, "day", "date hors de la période facturable (2 ans au plus)"))
                else:
                    cid, acc = children[r.child_ref]
                    rows.append(
                        {
                            "child_id": cid,
                            "account_id": acc,
                            "activity_code": r.activity_code,
                            "day": r.day,
                            "registered": r.registered,
                            "source": source,
                        }
                    )
            if rows:
                insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
                stmt = insert(Attendance).on_conflict_do_nothing(index_elements=["child_id", "activity_code", "day"])
                inserted = s.execute(stmt.returning(Attendance.id), rows).all()
                result.accepted = len(inserted)
                result.duplicates = len(rows) - len(inserted)
        log.info(
            "attendance.ingested",
            source=source,
            accepted=result.accepted,
            duplicates=result.duplicates,
            errors=len(result.errors),
        )
        return result


def records_from_csv(text: str) -> list[dict[str, Any]]:
    """Rows of a CSV export (`child_ref;activity_code;day;registered`, `;` or `,` separated)."""
    dialect = csv.Sniffer().sniff(text.splitlines()[0] if text else "a;b", delimiters=";,")
    rows = list(csv.DictReader(io.StringIO(text), dialect=dialect))
    for row in rows:
        if "registered" in row:
            row["registered"] = str(row["registered"]).strip().lower() in ("1", "true", "oui", "yes")
    return rows


def records_from_message(body: str) -> list[dict[str, Any]]:
    """Records of a queue message: one JSON object or a JSON list of them."""
    data = json.loads(body)
    return data if isinstance(data, list) else [data]


class AttendanceQueueConsumer:
    """Reads attendance messages from SQS (long polling) and ingests them; run by the worker process."""

    def __init__(self, sqs: Any, queue_url: str, ingest: AttendanceIngest) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.ingest = ingest

    def poll_once(self, today: date, wait_seconds: int = 10) -> IngestResult:
        """Receive up to 10 messages, ingest them, delete them; returns the combined result."""
        resp = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
        total = IngestResult()
        for message in resp.get("Messages", []):
            try:
                records = records_from_message(message["Body"])
            except (ValueError, TypeError):
                # a message that is not JSON can never succeed: log it and drop it (the DLQ keeps a copy)
                log.warning("attendance.queue_unreadable", message_id=message["MessageId"])
                records = []
            result = self.ingest.ingest(records, "sqs", today)
            total.accepted += result.accepted
            total.duplicates += result.duplicates
            total.errors.extend(result.errors)
            # deleted only once stored: a crash before this line redelivers it, and duplicates are harmless
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return total
