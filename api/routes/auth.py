"""Sign-in by magic link (one-time, 15 minutes) or OpenID Connect; the session is a signed cookie or a Bearer token."""

from __future__ import annotations

import asyncio
import hashlib
import hmac

import structlog
from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, EmailStr
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.deps import EngineDep, NotifierDep, OidcDep, SessionDep, SettingsDep, SignerDep
from api.oidc import OidcError, OidcFlow, VerifiedIdentity
from api.ratelimit import RateLimiter
from api.rendering import error_page
from api.security import (
    HOME_BY_ROLE,
    OIDC_FLOW_MAX_AGE,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    Principal,
    current_principal,
    revoke_session,
)
from services import users
from services.notification_registry import Contact, register_resolver
from services.notifications import NotificationRequest
from ville.models.people import UsedToken, UserAccount
from ville.settings import Settings

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/auth", tags=["auth"])
sign_in_limit = RateLimiter("sign-in", rate=5, per=60, burst=5)
oidc_limit = RateLimiter("oidc", rate=20, per=60, burst=20)
OIDC_COOKIE = "ville_oidc"
OIDC_COOKIE_PATH = "/auth/oidc"


@register_resolver("user")
def _user_contact(s: Session, user_id: int) -> Contact | None:
    user = s.get(UserAccount, user_id)
    return None if user is None else Contact(user.email, None, user.display_name)


class MagicLinkRequest(BaseModel):
    """Ask for a sign-in link by e-mail."""

    email: EmailStr


class MagicLinkAnswer(BaseModel):
    """Always the same answer, whether the address is known or not (no account enumeration)."""

    message: str
    dev_link: str | None = None


@router.post("/magic-link", dependencies=[Depends(sign_in_limit)])
async def request_magic_link(
    body: MagicLinkRequest,
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    settings: SettingsDep,
    signer: SignerDep,
    notifier: NotifierDep,
) -> MagicLinkAnswer:
    """Send a one-time sign-in link to a known address (after answering: known and unknown take the same time)."""
    user = users.by_email(session, body.email)
    answer = MagicLinkAnswer(message="Si cette adresse est connue, un lien de connexion vient d'y être envoyé.")
    if user is None or not user.active or user.id is None:
        log.info("auth.magic_link_unknown")
        return answer
    token = signer.magic_link_token(user.id)
    link = f"{settings.public_base_url}/auth/callback?token={token}"
    req = NotificationRequest(
        f"magic-link:{token[-24:]}", "email", "magic_link", "user", user.id, f"user-{user.id}", {"link": link}
    )
    # sent after the answer: waiting for the mail provider here told who has an account (19.6 vs 5.5 ms)
    background.add_task(asyncio.to_thread, notifier.send_many, [req])
    log.info("auth.magic_link_queued", user_id=user.id)
    if settings.env == "dev":
        answer.dev_link = link
    return answer


@router.get("/callback", include_in_schema=False, dependencies=[Depends(sign_in_limit)])
async def magic_link_callback(token: str, session: SessionDep, signer: SignerDep, settings: SettingsDep) -> Response:
    """Open a session from a magic link (each link works once)."""
    claims = signer.read_magic_link(token)
    if claims is None:
        return RedirectResponse("/connexion?erreur=lien", status.HTTP_303_SEE_OTHER)
    user_id, token_id = claims
    session.add(UsedToken(token_id=token_id))
    try:
        session.commit()
    except IntegrityError:
        log.warning("auth.magic_link_replayed", user_id=user_id)
        return RedirectResponse("/connexion?erreur=lien", status.HTTP_303_SEE_OTHER)
    user = session.get(UserAccount, user_id)
    if user is None or not user.active:
        return RedirectResponse("/connexion?erreur=lien", status.HTTP_303_SEE_OTHER)
    principal = Principal.of(user)
    response = RedirectResponse(HOME_BY_ROLE[user.role], status.HTTP_303_SEE_OTHER)
    set_session_cookie(response, signer.session_token(principal), secure=settings.env == "production")
    log.info("auth.signed_in", user_id=user_id, role=user.role.value)
    return response


def set_session_cookie(response: Response, token: str, secure: bool) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure in production."""
    response.set_cookie(
        SESSION_COOKIE, token, max_age=SESSION_MAX_AGE, httponly=True, samesite="lax", secure=secure, path="/"
    )


@router.post("/logout")
def logout(request: Request, engine: EngineDep) -> Response:
    """Close the session: its token is refused from now on, as cookie and as Bearer."""
    principal = current_principal(request)
    if principal is not None:
        revoke_session(engine, principal)
    response = RedirectResponse("/connexion", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- OpenID Connect (FranceConnect...) -------------------------------------------------------------------


def _oidc_refusal(request: Request, status_code: int, message: str) -> Response:
    response: Response = error_page(request, status_code, message)
    response.delete_cookie(OIDC_COOKIE, path=OIDC_COOKIE_PATH)
    return response


@router.get("/oidc/login", include_in_schema=False, dependencies=[Depends(oidc_limit)])
async def oidc_login(request: Request, client: OidcDep, signer: SignerDep, settings: SettingsDep) -> Response:
    """Send the browser to the identity provider (404 when none is configured)."""
    flow = OidcFlow.new()
    try:
        url = await client.authorization_url(flow)
    except OidcError as err:
        log.warning("auth.oidc_unavailable", reason=err.reason)
        return _oidc_refusal(request, 503, f"{settings.oidc_provider_name} est momentanément indisponible.")
    response = RedirectResponse(url, status.HTTP_303_SEE_OTHER)
    # SameSite=Lax: the provider's redirect back is a top-level GET, which carries it
    response.set_cookie(
        OIDC_COOKIE,
        signer.oidc_flow_token(flow.claims()),
        max_age=OIDC_FLOW_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=settings.env == "production",
        path=OIDC_COOKIE_PATH,
    )
    return response


@router.get("/oidc/callback", include_in_schema=False, dependencies=[Depends(oidc_limit)])
async def oidc_callback(
    request: Request,
    client: OidcDep,
    session: SessionDep,
    signer: SignerDep,
    settings: SettingsDep,
    code: str = "",
    state: str = "",
    error: str = "",
) -> Response:
    """Back from the provider: check state, exchange the code (PKCE), verify the ID token, open a session."""
    failed = f"La connexion avec {settings.oidc_provider_name} a échoué : recommencez depuis la page de connexion."
    claims = signer.read_oidc_flow(request.cookies.get(OIDC_COOKIE, ""))
    flow = OidcFlow.from_claims(claims) if claims and {"s", "n", "v"} <= claims.keys() else None
    if error:
        log.warning("auth.oidc_refused", reason="provider_error")
        return _oidc_refusal(request, 401, failed)
    if flow is None or not state or not hmac.compare_digest(state, flow.state) or not code:
        log.warning("auth.oidc_refused", reason="state_mismatch")
        return _oidc_refusal(request, 401, failed)
    try:
        identity = await client.sign_in(code, flow, settings.oidc_email_claim)
    except OidcError as err:
        log.warning("auth.oidc_refused", reason=err.reason)
        return _oidc_refusal(request, 401, failed)
    # each sign-in's state works once, even if the provider accepted a code twice
    session.add(UsedToken(token_id="oidc:" + hashlib.sha256(flow.state.encode()).hexdigest()[:40]))
    try:
        await asyncio.to_thread(session.commit)
    except IntegrityError:
        log.warning("auth.oidc_refused", reason="replayed")
        return _oidc_refusal(request, 401, failed)
    user = await asyncio.to_thread(account_for_identity, session, settings, identity)
    if user is None or user.id is None:
        log.warning("auth.oidc_unknown_account")
        message = (
            f"Votre identité {settings.oidc_provider_name} est vérifiée, mais aucun compte de la Ville ne lui est"
            " associé. Connectez-vous avec votre adresse e-mail ou contactez votre service."
        )
        return _oidc_refusal(request, 403, message)
    response = RedirectResponse(HOME_BY_ROLE[user.role], status.HTTP_303_SEE_OTHER)
    response.delete_cookie(OIDC_COOKIE, path=OIDC_COOKIE_PATH)
    set_session_cookie(response, signer.session_token(Principal.of(user)), secure=settings.env == "production")
    log.info("auth.signed_in", user_id=user.id, role=user.role.value, method="oidc")
    return response


def account_for_identity(session: Session, settings: Settings, identity: VerifiedIdentity) -> UserAccount | None:
    """The account this identity signs in to: linked already, or matched by a verified address when allowed."""
    email: str | None = None
    if settings.oidc_account_match == "email":
        claimed = identity.claims.get(settings.oidc_email_claim)
        # an address the provider says it has not verified proves nothing
        if isinstance(claimed, str) and identity.claims.get("email_verified", True) is not False:
            email = claimed
    return users.for_identity(session, identity.issuer, identity.subject, email)
