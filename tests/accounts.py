"""Session tokens for test principals: the API re-reads the account on every request, so it must exist."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Connection, insert, select, text, update
from sqlalchemy.engine import Engine

from api.security import Principal, TokenSigner
from ville.models.billing import FamilyAccount
from ville.models.people import UserAccount


def ensure_account(engine: Engine, principal: Principal) -> None:
    """Create the principal's account, or give it the principal's role and scope (tests reuse user ids)."""
    scope = {
        "role": principal.role,
        "family_account_id": principal.family_account_id,
        "inspector_id": principal.inspector_id,
        "partner_org_id": principal.partner_org_id,
        "relay_id": principal.relay_id,
        "active": True,
    }
    with engine.begin() as c:
        family = principal.family_account_id
        if family is not None and c.execute(select(FamilyAccount.id).where(FamilyAccount.id == family)).first() is None:
            # a family principal of a test that never needed its account's rows: the account exists, empty
            c.execute(insert(FamilyAccount).values(id=family, ref=f"FA-T{family:06d}", arrondissement=1))
            _past_explicit_ids(c, "family_account")
        found = c.execute(update(UserAccount).where(UserAccount.id == principal.user_id).values(**scope)).rowcount
        if not found:
            c.execute(
                insert(UserAccount).values(
                    id=principal.user_id,
                    email=f"compte-{principal.user_id}@tests.invalid",
                    display_name=f"Compte de test {principal.user_id}",
                    **scope,
                )
            )
            _past_explicit_ids(c, "user_account")


def _past_explicit_ids(c: Connection, table: str) -> None:
    """Move PostgreSQL's id sequence past the ids inserted by hand, so the next generated id is free.

    SQLite picks max(id) + 1; a PostgreSQL sequence does not see explicit ids, and the next row the application
    inserts into the shared session database would collide with a test principal's account.
    """
    if c.dialect.name == "postgresql":
        c.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))


def account_token(engine: Engine, signer: TokenSigner, principal: Principal) -> str:
    """A session token whose account exists in the database behind `engine`."""
    ensure_account(engine, principal)
    return signer.session_token(principal)


def session_token(app: FastAPI, principal: Principal) -> str:
    """A session token accepted by `app` for `principal`."""
    return account_token(app.state.sessions.engine, app.state.signer, principal)
