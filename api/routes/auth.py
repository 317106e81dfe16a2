"""Sign-in by magic link (one-time, 15 minutes); the session is a signed cookie or a Bearer token."""

from __future__ import annotations

import asyncio

import structlog
from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, EmailStr
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from activities.notifications import Contact, NotificationRequest, Notifier, register_resolver
from api.deps import SessionDep, SettingsDep, SignerDep
from api.ratelimit import RateLimiter
from api.security import SESSION_COOKIE, SESSION_MAX_AGE, Principal
from ville.models.people import Role, UsedToken, UserAccount

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/auth", tags=["auth"])
sign_in_limit = RateLimiter("sign-in", rate=5, per=60, burst=5)

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


@register_resolver("user")
def _user_contact(s: object, user_id: int) -> Contact | None:
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
    body: MagicLinkRequest, request: Request, session: SessionDep, settings: SettingsDep, signer: SignerDep
) -> MagicLinkAnswer:
    """Send a one-time sign-in link to a known address."""
    user = session.exec(select(UserAccount).where(UserAccount.email == body.email.lower())).first()
    answer = MagicLinkAnswer(message="Si cette adresse est connue, un lien de connexion vient d'y être envoyé.")
    if user is None or not user.active or user.id is None:
        log.info("auth.magic_link_unknown")
        return answer
    token = signer.magic_link_token(user.id)
    link = f"{settings.public_base_url}/auth/callback?token={token}"
    notifier: Notifier = request.app.state.notifier
    req = NotificationRequest(
        f"magic-link:{token[-24:]}", "email", "magic_link", "user", user.id, f"user-{user.id}", {"link": link}
    )
    await asyncio.to_thread(notifier.send_many, [req])
    log.info("auth.magic_link_sent", user_id=user.id)
    if settings.env == "dev":
        answer.dev_link = link
    return answer


@router.get("/callback", dependencies=[Depends(sign_in_limit)])
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
async def logout() -> Response:
    """Close the session."""
    response = RedirectResponse("/connexion", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
