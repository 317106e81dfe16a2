"""Loading the partner directory from HSDS data (JSON or a CSV data package), upserted by HSDS id."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, File, UploadFile

from api.deps import ReferralsDep
from api.errors import field_error
from api.referral_access import DirectoryOperator
from api.referral_views import report_out
from api.schemas.referrals import LoadReportOut
from domain.hsds_tables import csv_tables, parse_directory

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/rif", tags=["rif"])

MAX_CSV_BYTES = 5 * 1024 * 1024


@router.post("/directory/import")
def directory_import(principal: DirectoryOperator, referrals: ReferralsDep,
                     data: Annotated[dict[str, Any], Body()]) -> LoadReportOut:  # fmt: skip
    """Load an HSDS JSON dataset (flat tables or nested organizations); upsert by HSDS id."""
    directory = parse_directory(data)
    if not directory.organizations and not directory.services:
        raise field_error("body", "Aucune organisation ni aucun service HSDS reconnu.")
    report = referrals.load_directory(directory)
    log.info("referral.directory_loaded", services=report.services_created + report.services_updated)
    return report_out(report)


@router.post("/directory/import/csv")
async def directory_import_csv(
    principal: DirectoryOperator, referrals: ReferralsDep, files: Annotated[list[UploadFile], File(min_length=1)]
) -> LoadReportOut:
    """Load an HSDS CSV data package (organizations.csv, services.csv, locations.csv, ...)."""
    texts: dict[str, str] = {}
    total = 0
    for f in files:
        raw = await f.read(MAX_CSV_BYTES + 1)
        total += len(raw)
        if total > MAX_CSV_BYTES:
            raise field_error("files", "Fichiers trop volumineux (5 Mo au total).", 413)
        try:
            texts[f.filename or "table.csv"] = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise field_error("files", f"{f.filename} n'est pas encodé en UTF-8.") from None
    directory = parse_directory(csv_tables(texts))
    if not directory.organizations and not directory.services:
        raise field_error("files", "Aucune organisation ni aucun service HSDS reconnu.")
    report = await asyncio.to_thread(referrals.load_directory, directory)
    return report_out(report)
