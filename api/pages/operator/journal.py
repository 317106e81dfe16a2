"""Operator console: the audit log of operator actions."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select

from api.deps import SessionDep
from api.pages.common import page_router, signed_in
from api.pages.console import (
    JOURNAL_ROLES,
    console_page,
)
from api.routes.billing_operator import (
    audit_log,
)
from domain import labels
from ville.models.people import UserAccount

router = page_router()


@router.get("/operateur/journal", response_class=HTMLResponse)
def journal_page(request: Request, session: SessionDep) -> Response:
    """The audit log of operator actions: who, what, when, why."""
    principal = signed_in(request, *JOURNAL_ROLES)
    entries = audit_log(principal, session, 200)
    ids = {int(e["actor"]) for e in entries}
    names = {u.id: u.display_name for u in session.exec(select(UserAccount).where(col(UserAccount.id).in_(ids))).all()}
    rows = [
        {
            **e,
            "at": datetime.fromisoformat(e["at"]),
            "actor_name": names.get(int(e["actor"]), f"Utilisateur {e['actor']}"),
            "action_fr": labels.journal_action(e["action"]),
        }
        for e in entries
    ]
    return console_page(request, "operateur_journal.html", title="Journal des actions", rows=rows)
