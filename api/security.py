"""Who is asking: signed session tokens (rotated keys), roles, and the dependencies routes declare."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import Depends, HTTPException, Request, status
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ville.models.people import Role, UserAccount

log = structlog.get_logger(__name__)

SESSION_COOKIE = "ville_session"
SESSION_MAX_AGE = 8 * 3600
MAGIC_LINK_MAX_AGE = 15 * 60


@dataclass(frozen=True)
class Principal:
    """The authenticated caller and the scope of what it may see."""

    user_id: int
    role: Role
    family_account_id: int | None = None
    inspector_id: int | None = None
    partner_org_id: int | None = None
    relay_id: int | None = None

    @classmethod
    def of(cls, user: UserAccount) -> Principal:
        """Build the principal of a stored user."""
        assert user.id is not None
        return cls(
            user_id=user.id,
            role=user.role,
            family_account_id=user.family_account_id,
            inspector_id=user.inspector_id,
            partner_org_id=user.partner_org_id,
            relay_id=user.relay_id,
        )

    def claims(self) -> dict[str, Any]:
        """The signed token's body: ids and role only, no personal data."""
        return {
            "u": self.user_id,
            "r": self.role.value,
            "f": self.family_account_id,
            "i": self.inspector_id,
            "p": self.partner_org_id,
            "l": self.relay_id,
        }

    @classmethod
    def from_claims(cls, c: dict[str, Any]) -> Principal:
        """Inverse of `claims`."""
        return cls(
            user_id=int(c["u"]),
            role=Role(c["r"]),
            family_account_id=c.get("f"),
            inspector_id=c.get("i"),
            partner_org_id=c.get("p"),
            relay_id=c.get("l"),
        )


class TokenSigner:
    """Signs and verifies tokens; the first key signs, every listed key verifies (rotation)."""

    def __init__(self, keys_newest_first: list[str]) -> None:
        # itsdangerous signs with the LAST key of the list and tries them all to verify.
        keys = list(reversed(keys_newest_first))
        self._session = URLSafeTimedSerializer(keys, salt="session")
        self._magic = URLSafeTimedSerializer(keys, salt="magic-link")
        self._csrf = URLSafeTimedSerializer(keys, salt="csrf")

    def session_token(self, principal: Principal) -> str:
        """A bearer/cookie token for this principal."""
        return self._session.dumps(principal.claims())

    def read_session(self, token: str) -> Principal | None:
        """The principal of a valid, unexpired token, or None."""
        try:
            return Principal.from_claims(self._session.loads(token, max_age=SESSION_MAX_AGE))
        except (BadSignature, SignatureExpired, KeyError, ValueError, TypeError):
            return None

    def magic_link_token(self, user_id: int) -> str:
        """A one-time sign-in token (its id is recorded when used)."""
        return self._magic.dumps({"u": user_id, "n": secrets.token_hex(8)})

    def read_magic_link(self, token: str) -> tuple[int, str] | None:
        """(user id, token id) of a valid magic link, or None."""
        try:
            data = self._magic.loads(token, max_age=MAGIC_LINK_MAX_AGE)
            return int(data["u"]), str(data["n"])
        except (BadSignature, SignatureExpired, KeyError, ValueError, TypeError):
            return None

    def csrf_token(self, session_token: str) -> str:
        """A CSRF token bound to the session (double submit, signed)."""
        return self._csrf.dumps(session_token[-16:])

    def check_csrf(self, session_token: str, token: str) -> bool:
        """True when `token` was issued for this session."""
        try:
            return bool(self._csrf.loads(token, max_age=SESSION_MAX_AGE) == session_token[-16:])
        except (BadSignature, SignatureExpired):
            return False


def _token_from(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.cookies.get(SESSION_COOKIE)


def current_principal(request: Request) -> Principal | None:
    """The caller, if authenticated."""
    token = _token_from(request)
    if not token:
        return None
    signer: TokenSigner = request.app.state.signer
    return signer.read_session(token)


def require(*roles: Role) -> Any:
    """A dependency admitting only the given roles (admin is always admitted)."""
    allowed = {*roles, Role.admin}

    def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if principal is None:
            log.info("auth.unauthenticated", path=request.url.path)
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "Authentification requise", {"WWW-Authenticate": "Bearer"}
            )
        if principal.role not in allowed:
            log.warning("auth.forbidden", path=request.url.path, user_id=principal.user_id, role=principal.role)
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Accès refusé pour ce rôle")
        return principal

    return Depends(dependency)


def not_found() -> HTTPException:
    """The answer for a foreign id: indistinguishable from a missing one."""
    return HTTPException(status.HTTP_404_NOT_FOUND, "Introuvable")


FamilyUser = Annotated[Principal, require(Role.family)]
BillingOperator = Annotated[Principal, require(Role.billing_operator, Role.operator)]
Operator = Annotated[Principal, require(Role.operator)]
