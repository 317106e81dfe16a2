"""What the notifier asks of each process: how to reach a recipient kind, and which deferred messages are wanted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlmodel import Session

from contracts.delivery import NotificationRequest

IN_CHUNK = 500  # bounded IN lists, also on PostgreSQL


@dataclass(frozen=True)
class Contact:
    """Where to reach a person; resolved inside the activity so it never enters workflow history."""

    email: str | None
    phone: str | None
    display_name: str


# Each process registers how to find the contact behind a recipient kind (payer, inspector, partner...).
RecipientResolver = Callable[[Session, int], Contact | None]
RESOLVERS: dict[str, RecipientResolver] = {}
# Optionally also for many people of a kind at once (one query for a batch): {id: contact}, absent when unknown.
BulkResolver = Callable[[Session, Sequence[int]], dict[int, Contact]]
BULK_RESOLVERS: dict[str, BulkResolver] = {}


def register_resolver(kind: str) -> Callable[[RecipientResolver], RecipientResolver]:
    """Decorator registering the contact resolver of a recipient kind."""

    def wrap(fn: RecipientResolver) -> RecipientResolver:
        RESOLVERS[kind] = fn
        return fn

    return wrap


def register_bulk_resolver(kind: str) -> Callable[[BulkResolver], BulkResolver]:
    """Decorator registering the resolver of many contacts of a kind at once (used for batches)."""

    def wrap(fn: BulkResolver) -> BulkResolver:
        BULK_RESOLVERS[kind] = fn
        return fn

    return wrap


def resolve_contacts(s: Session, requests: Sequence[NotificationRequest]) -> dict[str, Contact | None]:
    """The contact of each request's recipient, by key: one query per IN chunk for kinds with a bulk resolver."""
    ids_by_kind: dict[str, set[int]] = {}
    for r in requests:
        if r.recipient_kind not in RESOLVERS and r.recipient_kind not in BULK_RESOLVERS:
            raise ValueError(f"no contact resolver for {r.recipient_kind!r}")
        ids_by_kind.setdefault(r.recipient_kind, set()).add(r.recipient_id)
    found: dict[tuple[str, int], Contact | None] = {}
    for kind, ids in ids_by_kind.items():
        bulk = BULK_RESOLVERS.get(kind)
        if bulk is None:
            found.update(((kind, i), RESOLVERS[kind](s, i)) for i in ids)
            continue
        ordered = sorted(ids)
        for start in range(0, len(ordered), IN_CHUNK):
            chunk = ordered[start : start + IN_CHUNK]
            contacts = bulk(s, chunk)
            found.update(((kind, i), contacts.get(i)) for i in chunk)
    return {r.key: found[(r.recipient_kind, r.recipient_id)] for r in requests}


# A message that waited for the recipient's hours may no longer be wanted when its moment comes (a reminder
# for an invoice paid in the meantime): each process registers, per template, which subjects still want it.
StillWanted = Callable[[Session, set[str]], set[str]]
STILL_WANTED: dict[str, StillWanted] = {}


def register_still_wanted(template: str) -> Callable[[StillWanted], StillWanted]:
    """Decorator registering which subject refs still want a deferred message of `template` (others are dropped)."""

    def wrap(fn: StillWanted) -> StillWanted:
        STILL_WANTED[template] = fn
        return fn

    return wrap


def still_wanted(s: Session, requests: Sequence[NotificationRequest]) -> list[NotificationRequest]:
    """The requests still wanted (a template without a registered check always is)."""
    refs_by_template: dict[str, set[str]] = {}
    for r in requests:
        if r.template in STILL_WANTED:
            refs_by_template.setdefault(r.template, set()).add(r.subject_ref)
    wanted = {t: STILL_WANTED[t](s, refs) for t, refs in refs_by_template.items()}
    return [r for r in requests if r.template not in wanted or r.subject_ref in wanted[r.template]]
