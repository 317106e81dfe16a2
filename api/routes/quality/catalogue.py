"""What the quality team builds campaigns from: référentiel versions, auditable sites, inspectors."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from api.deps import AuditCampaignsDep
from api.qualiparis import PREFIX, TEMPORAL_ERRORS, QualityTeam
from api.schemas.audit import ReferentielIn, ReferentielOut
from api.security import not_found
from domain.audit.referentiel import ReferentielError, load_referentiel
from services.audit import AuditRefusal
from ville.models.audit import ReferentielVersion

router = APIRouter(prefix=PREFIX, tags=["qualiparis"])


def _referentiel_out(row: ReferentielVersion) -> ReferentielOut:
    ref = load_referentiel(row.data)
    return ReferentielOut(
        version=row.version,
        effective_from=row.effective_from,
        source=row.source,
        commitments=len(ref.commitments),
        criteria=len(ref.criteria),
    )


@router.get("/referentiels")
def list_referentiels(principal: QualityTeam, campaigns: AuditCampaignsDep) -> list[ReferentielOut]:
    """Every version of the référentiel, oldest first."""
    return [_referentiel_out(r) for r in campaigns.referentiels()]


@router.get("/referentiels/{version}")
def get_referentiel(version: str, principal: QualityTeam, campaigns: AuditCampaignsDep) -> dict[str, Any]:
    """The JSON document of a version."""
    doc = campaigns.referentiel_document(version)
    if doc is None:
        raise not_found()
    return doc


@router.post("/referentiels", status_code=status.HTTP_201_CREATED, responses=TEMPORAL_ERRORS)
def create_referentiel(body: ReferentielIn, principal: QualityTeam, campaigns: AuditCampaignsDep) -> ReferentielOut:
    """Publish a new version (commitments, criteria, weights...): versions are never edited in place."""
    try:
        ref = load_referentiel(body.document)
    except ReferentielError as err:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "code": "validation_error",
                "message": str(err),
                "fields": [{"field": "document", "message": p} for p in err.problems],
            },
        ) from None
    try:
        row = campaigns.publish_referentiel(ref, body.document, principal.user_id)
    except AuditRefusal as err:
        raise HTTPException(status.HTTP_409_CONFLICT, err.message) from None
    return _referentiel_out(row)


@router.get("/sites")
def list_sites(principal: QualityTeam, campaigns: AuditCampaignsDep) -> list[dict[str, Any]]:
    """The sites that can be audited."""
    return [
        {
            "id": s.id,
            "ref": s.ref,
            "name": s.name,
            "site_type": s.site_type,
            "arrondissement": s.arrondissement,
            "address": s.address,
        }
        for s in campaigns.active_sites()
    ]


@router.get("/inspectors")
def list_inspectors(principal: QualityTeam, campaigns: AuditCampaignsDep) -> list[dict[str, Any]]:
    """Inspectors of the accredited bodies: capacity, area, conflicts of interest."""
    return [
        {
            "id": i.id,
            "ref": i.ref,
            "body_id": i.body_id,
            "display_name": i.display_name,
            "capacity": i.capacity,
            "arrondissements": i.arrondissements,
            "conflict_site_refs": i.conflict_site_refs,
            "active": i.active,
        }
        for i in campaigns.inspectors()
    ]
