"""Public pages: the landing page and sign-out."""

from __future__ import annotations

from fastapi import Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.pages.common import check_csrf, page_router
from api.rendering import render
from api.security import SESSION_COOKIE, current_principal, revoke_session

router = page_router()


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
        check_csrf(request, csrf)
        if (principal := current_principal(request)) is not None:
            revoke_session(request.app.state.sessions.engine, principal)
    response = RedirectResponse("/connexion?deconnecte=1", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
