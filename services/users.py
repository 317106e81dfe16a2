"""The city's user accounts as sign-in reads them: by e-mail address, or by an identity provider's subject."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, select

from ville.models.oidc import OidcIdentity
from ville.models.people import UserAccount


def by_email(session: Session, email: str) -> UserAccount | None:
    """The account with this address (addresses are stored lower-case), or None."""
    return session.exec(select(UserAccount).where(UserAccount.email == email.strip().lower())).first()


def for_identity(session: Session, issuer: str, subject: str, email: str | None) -> UserAccount | None:
    """The active account linked to this provider identity; else the one with `email` (None: no matching by
    address), which gets linked. The link's last sign-in is recorded."""
    link = session.exec(
        select(OidcIdentity).where(OidcIdentity.issuer == issuer, OidcIdentity.subject == subject)
    ).first()
    user: UserAccount | None = None
    if link is not None:
        user = session.get(UserAccount, link.user_id)
    elif email is not None:
        user = by_email(session, email)
        if user is not None and user.active and user.id is not None:
            link = OidcIdentity(issuer=issuer, subject=subject, user_id=user.id)
    if user is None or not user.active:
        return None
    if link is not None:
        link.last_sign_in_at = datetime.now(UTC)
        session.add(link)
        session.commit()
        session.refresh(user)
    return user
