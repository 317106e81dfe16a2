"""Who is asking: signed session tokens (rotated keys), roles, and the dependencies routes declare."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Annotated, Any

import structlog
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import bindparam, delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col

from ville.models.common import utcnow
from ville.models.people import RevokedSession, Role, UserAccount

log = structlog.get_logger(__name__)

SESSION_COOKIE = "ville_session"
SESSION_MAX_AGE = 8 * 3600
MAGIC_LINK_MAX_AGE = 15 * 60
OIDC_FLOW_MAX_AGE = 10 * 60


@dataclass(frozen=True)
class Principal:
    """The authenticated caller and the scope of what it may see."""

    user_id: int
    role: Role
    family_account_id: int | None = None
    inspector_id: int | None = None
    partner_org_id: int | None = None
    relay_id: int | None = None
    session_id: str | None = None  # set when signed in: the token's id, revoked at sign-out

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
            "s": self.session_id,
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
            session_id=c.get("s"),
        )


class TokenSigner:
    """Signs and verifies tokens; the first key signs, every listed key verifies (rotation)."""

    def __init__(self, keys_newest_first: list[str]) -> None:
        # itsdangerous signs with the LAST key of the list and tries them all to verify.
        keys = list(reversed(keys_newest_first))
        self._session = URLSafeTimedSerializer(keys, salt="session")
        self._magic = URLSafeTimedSerializer(keys, salt="magic-link")
        self._csrf = URLSafeTimedSerializer(keys, salt="csrf")
        self._oidc = URLSafeTimedSerializer(keys, salt="oidc-flow")

    def session_token(self, principal: Principal) -> str:
        """A bearer/cookie token opening a new session (its own id) for this principal."""
        return self._session.dumps(replace(principal, session_id=secrets.token_urlsafe(18)).claims())

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

    def oidc_flow_token(self, claims: dict[str, str]) -> str:
        """The signed cookie carrying an OpenID Connect sign-in's state, nonce and PKCE verifier."""
        return self._oidc.dumps(claims)

    def read_oidc_flow(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid, unexpired sign-in cookie (10 minutes), or None."""
        try:
            data = self._oidc.loads(token, max_age=OIDC_FLOW_MAX_AGE)
        except (BadSignature, SignatureExpired):
            return None
        return data if isinstance(data, dict) else None


def _token_from(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.cookies.get(SESSION_COOKIE)


def current_principal(request: Request, connection: Connection | None = None) -> Principal | None:
    """The caller, if authenticated (the token is verified once per request: guards and pages both ask); the
    account is read on `connection` when given (a page's own reading thread), else on a connection of its own."""
    token = _token_from(request)
    if not token:
        return None
    cached: tuple[str, Principal | None] | None = getattr(request.state, "principal", None)
    if cached is not None and cached[0] == token:
        return cached[1]
    signer: TokenSigner = request.app.state.signer
    principal = signer.read_session(token)
    if principal is not None:
        # a signature proves who signed in, not that the session is still open nor the account still there
        principal = live_principal(request.app.state.sessions.engine if connection is None else connection, principal)
    request.state.principal = (token, principal)
    return principal


_ACCOUNT = select(
    col(UserAccount.role),
    col(UserAccount.family_account_id),
    col(UserAccount.inspector_id),
    col(UserAccount.partner_org_id),
    col(UserAccount.relay_id),
)


# built once (SQLAlchemy memoizes the cache key on the statement object): every signed-in request asks it
_LIVE_ACCOUNT = _ACCOUNT.where(
    col(UserAccount.id) == bindparam("user_id"),
    col(UserAccount.active).is_(True),
    ~exists().where(col(RevokedSession.session_id) == bindparam("session_id")),
)


def live_principal(bind: Engine | Connection, claimed: Principal) -> Principal | None:
    """The caller as the database knows it now: None for a revoked session or a missing or disabled account."""
    if claimed.session_id is None:
        return None
    params = {"user_id": claimed.user_id, "session_id": claimed.session_id}
    if isinstance(bind, Connection):
        row = bind.execute(_LIVE_ACCOUNT, params).first()
    else:
        with bind.connect() as c:
            row = c.execute(_LIVE_ACCOUNT, params).first()
    if row is None:
        return None
    role, family, inspector, partner, relay = row
    # the account's current role and scope win over what the token said when it was signed
    return Principal(claimed.user_id, role, family, inspector, partner, relay, claimed.session_id)


def revoke_session(engine: Engine, principal: Principal) -> None:
    """Close the caller's session for good (idempotent); forget revocations past their token's lifetime."""
    if principal.session_id is None:
        return
    now = utcnow()
    expires = now + timedelta(seconds=SESSION_MAX_AGE)
    insert = (postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert)(RevokedSession)
    with engine.begin() as c:
        c.execute(
            insert.values(session_id=principal.session_id, revoked_at=now, expires_at=expires).on_conflict_do_nothing()
        )
        c.execute(delete(RevokedSession).where(col(RevokedSession.expires_at) < now))


ROLES_ATTRIBUTE = "allowed_roles"
_BEARER = HTTPBearer(auto_error=False, scheme_name="session", description="Jeton de session (Bearer)")
_COOKIE = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="sessionCookie")


def route_template(request: Request) -> str:
    """The matched route's path template (`/api/family/invoices/{number}`): ids in the raw path stay out of logs."""
    route = request.scope.get("route")
    return str(getattr(route, "path_format", None) or getattr(route, "path", None) or "?")


def log_refusal(request: Request, principal: Principal | None) -> None:
    """Log a refused authorization: method, route template and role only (no ids, no personal data)."""
    log.warning(
        "auth.refused",
        method=request.method,
        route=route_template(request),
        role=principal.role.value if principal else "anonymous",
        reason="unauthenticated" if principal is None else "forbidden_role",
    )


def require(*roles: Role) -> Any:
    """A dependency admitting only the given roles (admin is always admitted)."""
    allowed = frozenset({*roles, Role.admin})

    # the two security schemes only document the session in OpenAPI (and let /docs send it); `_token_from` reads it
    def dependency(
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
        _cookie: Annotated[str | None, Depends(_COOKIE)],
    ) -> Principal:
        principal = current_principal(request)
        if principal is None:
            log_refusal(request, None)
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "Authentification requise", {"WWW-Authenticate": "Bearer"}
            )
        if principal.role not in allowed:
            log_refusal(request, principal)
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Accès refusé pour ce rôle")
        return principal

    # read by the authorization matrix (tests/api/authorization_matrix.py): every route declares its roles
    setattr(dependency, ROLES_ATTRIBUTE, allowed)
    return Depends(dependency)


def declared_roles(call: Any) -> frozenset[Role] | None:
    """The roles a `require()` dependency admits, or None for any other callable."""
    roles = getattr(call, ROLES_ATTRIBUTE, None)
    return roles if isinstance(roles, frozenset) else None


def not_found() -> HTTPException:
    """The answer for a foreign id: indistinguishable from a missing one."""
    return HTTPException(status.HTTP_404_NOT_FOUND, "Introuvable")


def _family_scope(request: Request, principal: Annotated[Principal, require(Role.family)]) -> Principal:
    # admins are admitted everywhere but hold no family account: a family's own routes are not for them
    if principal.family_account_id is None:
        log_refusal(request, principal)
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Réservé aux comptes famille")
    return principal


setattr(_family_scope, ROLES_ATTRIBUTE, frozenset({Role.family}))  # narrows require(): admins are not families
FamilyUser = Annotated[Principal, Depends(_family_scope)]
BillingOperator = Annotated[Principal, require(Role.billing_operator, Role.operator)]
Operator = Annotated[Principal, require(Role.operator)]


# where each role lands after signing in, and when a page refuses it
HOME_BY_ROLE = {
    Role.family: "/famille/factures",
    Role.inspector: "/inspecteur/missions",
    Role.partner: "/partenaire/orientations",
    Role.rif_agent: "/rif/dossiers",
    Role.coordinator: "/rif/dossiers",
    Role.billing_operator: "/exploitation",
    Role.quality_team: "/exploitation",
    Role.operator: "/exploitation",
    Role.admin: "/exploitation",
}
