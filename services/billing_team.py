"""The billing team as a message audience: who is in it, its contact, and a family-or-team notice as requests."""

from __future__ import annotations

from sqlmodel import Session, col, select

from contracts.contests import BILLING_TEAM
from contracts.delivery import NotificationRequest
from services.notification_registry import Contact, register_resolver
from ville.models.people import Role, UserAccount

TEAM_ROLES = (Role.billing_operator, Role.operator)


@register_resolver(BILLING_TEAM)
def _billing_user_contact(s: Session, user_id: int) -> Contact | None:
    """A billing operator's address (contests' and payment plans' reminders and escalations)."""
    user = s.get(UserAccount, user_id)
    if user is None or not user.active or user.role not in TEAM_ROLES:
        return None
    return Contact(user.email, None, user.display_name)


def member_ids(session: Session) -> list[int]:
    """The active accounts of the billing team."""
    ids = session.exec(select(UserAccount.id).where(col(UserAccount.role).in_(TEAM_ROLES), UserAccount.active))
    return [i for i in ids.all() if i is not None]


def notice_requests(
    session: Session,
    *,
    audience: str,
    key: str,
    template: str,
    ref: str,
    account_id: int,
    invoice_number: str,
    context: dict[str, str],
) -> list[NotificationRequest]:
    """One e-mail per billing operator (the request's key suffixed by each one's id), or one to the family's payer."""
    if audience == BILLING_TEAM:
        return [
            NotificationRequest(f"{key}:{uid}", "email", template, BILLING_TEAM, uid, ref, context)
            for uid in member_ids(session)
        ]
    return [NotificationRequest(key, "email", template, "payer", account_id, invoice_number, context)]
