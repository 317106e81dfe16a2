"""Request and response models of the attendance import (pointages of schools and centres)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from services.attendance import MAX_RECORDS, AttendanceRecord


class AttendanceBatch(BaseModel):
    """Up to 10,000 records; each is checked on its own."""

    records: list[dict[str, Any]] = Field(
        max_length=MAX_RECORDS, json_schema_extra={"items": AttendanceRecord.model_json_schema()}
    )


class IngestOut(BaseModel):
    """Accepted, already known, and refused records (with the field and the reason)."""

    accepted: int
    duplicates: int
    errors: list[dict[str, Any]]
