"""QualiParis: référentiel versions (seeded from the files shipped in `domain/audit/data`), the lookups and
refusals the other audit services share, and the audit recipients' contacts.

The audit tables are read and written only by `services/audit*.py`: `audit_planning` (tasks and assignments),
`audit_tasks` (an inspection's task), `audit_campaigns` (campaigns, sites, inspectors), `audit_results`.
"""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from typing import Any

import structlog
from sqlmodel import Session, col, select

from contracts.audit_names import AuditError, RecipientKind
from domain.audit.referentiel import Referentiel, load_referentiel, select_referentiel
from services.notification_registry import Contact, register_resolver
from ville.models.audit import (
    AuditCampaign,
    AuditInspector,
    AuditSite,
    AuditTask,
    InspectorUnavailability,
    ReferentielVersion,
)
from ville.models.people import Role, UserAccount

log = structlog.get_logger(__name__)


def bundled_documents() -> list[dict[str, Any]]:
    """The référentiel documents shipped with the code (`domain/audit/data/referentiel_*.json`)."""
    folder = resources.files("domain.audit").joinpath("data")
    docs = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith("referentiel_") and entry.name.endswith(".json"):
            docs.append(json.loads(entry.read_text(encoding="utf-8")))
    return docs


def ensure_bundled_referentiels(session: Session) -> list[str]:
    """Insert the shipped versions missing from the database (safe to run twice); their versions."""
    existing = set(session.exec(select(ReferentielVersion.version)).all())
    added = []
    for doc in bundled_documents():
        ref = load_referentiel(doc)  # a broken shipped file must fail loudly, never be stored
        if ref.version not in existing:
            session.add(
                ReferentielVersion(version=ref.version, effective_from=ref.effective_from, data=doc, source="bundled")
            )
            added.append(ref.version)
    if added:
        session.commit()
    return added


def referentiel_document(session: Session, version: str) -> dict[str, Any] | None:
    """The JSON document of a version, or None."""
    row = session.get(ReferentielVersion, version)
    if row is None and ensure_bundled_referentiels(session):
        row = session.get(ReferentielVersion, version)
    return None if row is None else dict(row.data)


def referentiel_in_force(session: Session, on: date) -> Referentiel:
    """The version in force on a day (LookupError when none)."""
    ensure_bundled_referentiels(session)
    rows = session.exec(select(ReferentielVersion).order_by(col(ReferentielVersion.effective_from))).all()
    return select_referentiel([load_referentiel(r.data) for r in rows], on)


def load_referentiel_version(session: Session, version: str) -> Referentiel | None:
    """The parsed référentiel of a version, or None."""
    doc = referentiel_document(session, version)
    return None if doc is None else load_referentiel(doc)


def referentiel_versions(session: Session) -> list[ReferentielVersion]:
    """Every stored version (the shipped ones included), oldest first."""
    ensure_bundled_referentiels(session)
    return list(session.exec(select(ReferentielVersion).order_by(col(ReferentielVersion.effective_from))).all())


def publish_referentiel(
    session: Session, ref: Referentiel, document: dict[str, Any], user_id: int
) -> ReferentielVersion:
    """Store a new version published by the quality team; AuditRefusal (conflict) when the version exists."""
    ensure_bundled_referentiels(session)
    if session.get(ReferentielVersion, ref.version) is not None:
        raise AuditRefusal(
            AuditError.ILLEGAL_TRANSITION, f"La version {ref.version} existe déjà : publiez une nouvelle version."
        )
    row = ReferentielVersion(
        version=ref.version,
        effective_from=ref.effective_from,
        data=document,
        source="quality_team",
        created_by_user_id=user_id,
    )
    session.add(row)
    session.commit()
    log.info("audit.referentiel_published", version=ref.version, user_id=user_id)
    return row


# --- refusals and lookups shared by the audit services ---------------------------------------------------


class AuditRefusal(Exception):
    """A business refusal of the audit services: `type` is an `AuditError` value, `message` French."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message


def campaign_or_refuse(s: Session, campaign_id: int, lock: bool = False) -> AuditCampaign:
    """The campaign, or AuditRefusal(NOT_FOUND); `lock` serialises assignment decisions of one campaign."""
    query = select(AuditCampaign).where(AuditCampaign.id == campaign_id)
    if lock:  # a row lock on PostgreSQL (SQLite locks the file)
        query = query.with_for_update()
    campaign = s.exec(query).first()
    if campaign is None:
        raise AuditRefusal(AuditError.NOT_FOUND, f"Campagne {campaign_id} introuvable")
    return campaign


def task_or_refuse(s: Session, task_id: int) -> AuditTask:
    """The task, or AuditRefusal(NOT_FOUND)."""
    task = s.get(AuditTask, task_id)
    if task is None:
        raise AuditRefusal(AuditError.NOT_FOUND, f"Tâche {task_id} introuvable")
    return task


def referentiel_or_refuse(s: Session, version: str) -> Referentiel:
    """The référentiel of a version, or AuditRefusal(NOT_FOUND)."""
    ref = load_referentiel_version(s, version)
    if ref is None:
        raise AuditRefusal(AuditError.NOT_FOUND, f"Référentiel {version} introuvable")
    return ref


def unavailable_inspectors(s: Session, campaign_id: int) -> set[int]:
    """Ids of the inspectors declared unavailable for the campaign."""
    rows = s.exec(
        select(InspectorUnavailability.inspector_id).where(InspectorUnavailability.campaign_id == campaign_id)
    ).all()
    return set(rows)


# --- contacts (the notifier resolves audit recipients through these) -------------------------------------


@register_resolver(RecipientKind.INSPECTOR)
def _inspector_contact(s: Session, inspector_id: int) -> Contact | None:
    inspector = s.get(AuditInspector, inspector_id)
    return None if inspector is None else Contact(inspector.email, inspector.phone, inspector.display_name)


@register_resolver(RecipientKind.SITE_MANAGER)
def _site_manager_contact(s: Session, site_id: int) -> Contact | None:
    site = s.get(AuditSite, site_id)
    return None if site is None else Contact(site.manager_email, site.manager_phone, site.manager_name)


@register_resolver(RecipientKind.QUALITY)
def _quality_contact(s: Session, user_id: int) -> Contact | None:
    user = s.get(UserAccount, user_id)
    if user is None or not user.active or user.role not in (Role.quality_team, Role.admin):
        return None
    return Contact(user.email, None, user.display_name)
