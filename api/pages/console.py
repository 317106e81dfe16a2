"""The operator console's shared pieces: who sees which part, its navigation, page layout, action helpers."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from api.rendering import render
from api.security import Principal, current_principal
from domain.periods import period_from_key
from ville.models.people import Role
from ville.settings import Settings

log = structlog.get_logger(__name__)


# Who sees which part of the console (admin sees everything, see `signed_in`).
BILLING_ROLES = (Role.operator, Role.billing_operator)
AUDIT_ROLES = (Role.operator, Role.quality_team)
REFERRAL_ROLES = (Role.operator,)
CONSOLE_ROLES = (Role.operator, Role.billing_operator, Role.quality_team)
JOURNAL_ROLES = (Role.operator, Role.billing_operator)  # like the JSON API's journal
NOTIFICATION_ROLES = (Role.operator, Role.billing_operator)  # like the JSON API's resend
NAV: list[tuple[str, str, tuple[Role, ...]]] = [
    # not "/operateur": the menu marks the entry whose href prefixes the path, and every console path has that one
    ("/operateur/accueil", "Tableau de bord", CONSOLE_ROLES),
    ("/operateur/workflows", "Workflows", CONSOLE_ROLES),
    ("/operateur/factures", "Factures", BILLING_ROLES),
    ("/operateur/taches", "Tâches d'audit", AUDIT_ROLES),
    ("/operateur/orientations", "Orientations", REFERRAL_ROLES),
    ("/operateur/notifications", "Messages en échec", NOTIFICATION_ROLES),
    ("/operateur/paiements", "Paiements en difficulté", BILLING_ROLES),
    ("/operateur/reclamations", "Réclamations", BILLING_ROLES),
    ("/operateur/echeanciers", "Échéanciers", BILLING_ROLES),
    ("/operateur/journal", "Journal", JOURNAL_ROLES),
]
PERIOD_KEY = re.compile(r"^\d{4}-\d{2}$")
MOTIF_MIN = 3


def ui_url(settings: Settings, workflow_id: str) -> str:
    """The workflow's page in the Temporal Web UI."""
    base = settings.temporal_ui_url.rstrip("/")
    return f"{base}/namespaces/{quote(settings.temporal_namespace, safe='')}/workflows/{quote(workflow_id, safe='')}"


def console_page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a console page with the console's navigation (the entries the caller may open)."""
    principal = current_principal(request)
    nav = [(href, label) for href, label, roles in NAV if principal is not None and can(principal, roles)]
    return render(request, template, status_code, nav=nav, **context)


def can(principal: Principal, roles: tuple[Role, ...]) -> bool:
    """True when the caller may see the part of the console reserved to `roles` (admin sees everything)."""
    return principal.role is Role.admin or principal.role in roles


def required_motif(raw: str) -> str:
    """The operator's reason, required (it goes to the audit log); a 422 page otherwise."""
    motif = raw.strip()
    if len(motif) < MOTIF_MIN:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "Indiquez le motif de l'action (3 caractères au moins)."
        )
    return motif[:500]


def temporal_failure(err: RPCError) -> HTTPException:
    """A console action Temporal refused: 409 when the workflow has ended, 503 when Temporal is unreachable."""
    if err.status is RPCStatusCode.NOT_FOUND:
        return HTTPException(status.HTTP_409_CONFLICT, "Ce workflow n'est pas en cours : action impossible.")
    log.warning("operator.temporal_error", status=err.status.name)
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Temporal est momentanément indisponible.")


def done_redirect(location: str, message_key: str) -> RedirectResponse:
    """Back to `location` after an action, which shows the notice NOTICES[message_key]."""
    sep = "&" if "?" in location else "?"
    return RedirectResponse(f"{location}{sep}fait={message_key}", status.HTTP_303_SEE_OTHER)


NOTICES = {
    "lancement": "Cycle de facturation lancé : l'émission des factures commence.",
    "pause": "Cycle mis en pause : les lots en cours se terminent, aucun nouveau lot ne démarre.",
    "reprise": "Cycle repris.",
    "relance": "Lots en échec relancés.",
    "attribution": "Tâche attribuée.",
    "cloture": "Dossier clos.",
    "annulation": "Annulation demandée : les lots en cours se terminent, aucun autre ne démarre.",
    "echeance": "Échéance reportée : rappels et détection du retard suivent la nouvelle date.",
    "escalade": "Orientation escaladée : la coordination du relais est alertée.",
    "renvoi": "Message remis en envoi.",
}


def status_name(s: WorkflowExecutionStatus | None) -> str:
    """Temporal's execution status as visibility names it (RUNNING → Running, TIMED_OUT → TimedOut)."""
    if s is None:
        return ""
    return "".join(p.capitalize() for p in s.name.split("_"))


def period_label(period_key: str) -> str:
    """'2026-09' → its French label; the key itself when it names no period."""
    try:
        return period_from_key(period_key).label_fr
    except ValueError:
        return period_key
