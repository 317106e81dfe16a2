"""How the notifier reaches a family's payer ("payer" recipients): one query for one payer or for a batch."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlmodel import Session

from services.notification_registry import Contact, register_bulk_resolver, register_resolver
from ville.models.billing import Payer

PAYER = "payer"


@register_resolver(PAYER)
def payer_contact(s: Session, account_id: int) -> Contact | None:
    """The payer of a family account."""
    return payer_contacts(s, [account_id]).get(account_id)


@register_bulk_resolver(PAYER)
def payer_contacts(s: Session, account_ids: Sequence[int]) -> dict[int, Contact]:
    """The payers of these family accounts, by account id (one IN query; the caller bounds the list)."""
    rows = s.execute(
        select(Payer.account_id, Payer.email, Payer.phone, Payer.first_name, Payer.last_name).where(
            Payer.account_id.in_(account_ids)
        )
    )
    return {acc: Contact(email, phone, f"{first} {last}") for acc, email, phone, first, last in rows}
