"""Operator console: the audit log of operator actions."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from api.audit_log import journal
from api.deps import SessionDep
from api.pages.common import page_router, signed_in
from api.pages.console import JOURNAL_ROLES, console_page
from domain import labels

router = page_router()


@router.get("/operateur/journal", response_class=HTMLResponse)
def journal_page(request: Request, session: SessionDep) -> Response:
    """The audit log of operator actions: who, what, when, why."""
    signed_in(request, *JOURNAL_ROLES)
    rows = [
        {
            "at": e.at,
            "actor_name": e.actor_name or f"Utilisateur {e.actor_user_id}",
            "action_fr": labels.journal_action(e.action),
            "target": e.target,
            "reason": e.reason,
        }
        for e in journal(session, 200)
    ]
    return console_page(request, "operateur_journal.html", title="Journal des actions", rows=rows)
