"""Shared page machinery (sign-in guard, CSRF), the landing page and sign-out pages; rendering in api.rendering."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.rendering import render
from api.security import (
    HOME_BY_ROLE,
    SESSION_COOKIE,
    Principal,
    TokenSigner,
    current_principal,
    log_refusal,
    revoke_session,
)
from ville.models.people import Role

log = structlog.get_logger(__name__)
router = APIRouter(tags=["pages"], include_in_schema=False)


class PageRedirect(Exception):
    """Raised by page guards; routers turn it into a redirect (pages never answer JSON errors)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def signed_in(request: Request, *roles: Role) -> Principal:
    """The caller if signed in with one of `roles` (admin admitted), else PageRedirect to /connexion."""
    principal = current_principal(request)
    if principal is None:
        log_refusal(request, None)
        raise PageRedirect("/connexion?suite=" + request.url.path)
    if principal.role not in {*roles, Role.admin}:
        log_refusal(request, principal)
        raise PageRedirect(HOME_BY_ROLE.get(principal.role, "/"))
    return principal


def check_csrf(request: Request, token: str) -> None:
    """Refuse a form whose CSRF token was not issued for this session (403)."""
    session_token = request.cookies.get(SESSION_COOKIE)
    signer: TokenSigner = request.app.state.signer
    if not session_token or not signer.check_csrf(session_token, token):
        log.warning("pages.csrf_refused", path=request.url.path)
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Jeton de formulaire invalide")


def guarded(request: Request, exc: Exception) -> Response:
    """Turn a guard redirect into a redirect; let an HTTP error reach the French error page (api.errors)."""
    if isinstance(exc, PageRedirect):
        return RedirectResponse(exc.location, status.HTTP_303_SEE_OTHER)
    # anything else reaches the app's exception handlers, which answer erreur.html on page paths (api.errors)
    raise exc


@router.get("/", response_class=HTMLResponse)
def landing(request: Request) -> Response:
    """Landing page: the services, and a link to sign in."""
    return render(request, "accueil.html", title="Services aux familles")


@router.get("/deconnexion", response_class=HTMLResponse)
def sign_out_page(request: Request) -> Response:
    """Confirm sign-out (a POST form, so a link elsewhere cannot sign the user out)."""
    return render(request, "deconnexion.html", title="Déconnexion")


@router.post("/deconnexion")
def sign_out(request: Request, csrf: str = Form("")) -> Response:
    """Close the session."""
    if request.cookies.get(SESSION_COOKIE):
        try:
            check_csrf(request, csrf)
        except HTTPException as exc:
            return guarded(request, exc)
        if (principal := current_principal(request)) is not None:
            revoke_session(request.app.state.sessions.engine, principal)
    response = RedirectResponse("/connexion?deconnecte=1", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
