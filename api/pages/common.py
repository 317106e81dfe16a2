"""Shared page machinery (templates, sign-in guard, CSRF), the landing page, sign-in and sign-out pages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter, BackgroundTasks, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from api.deps import NotifierDep, SessionDep, SettingsDep, SignerDep
from api.form_dates import DATE_PATTERN, format_form_date
from api.routes.auth import HOME_BY_ROLE, MagicLinkRequest, request_magic_link, sign_in_limit
from api.security import SESSION_COOKIE, Principal, TokenSigner, current_principal, log_refusal, revoke_session
from domain.calendar import PARIS, format_date_fr
from domain.labels import FILTERS as LABEL_FILTERS
from domain.money import format_eur
from ville.models.people import Role

log = structlog.get_logger(__name__)
router = APIRouter(tags=["pages"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
# templates ship with the code and the server is restarted to change them: no stat() of the file per render
templates.env.auto_reload = False


def _date_fr(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        # the database hands back naive UTC timestamps; people read Paris time
        local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(PARIS)
        return f"{format_date_fr(local.date())} à {local:%H:%M}"
    return format_date_fr(value)


templates.env.filters["eur"] = format_eur
templates.env.filters["date_fr"] = _date_fr
templates.env.filters["date_input"] = format_form_date
templates.env.globals["date_pattern"] = DATE_PATTERN
# the French vocabulary of statuses, outcomes, actions and processes (domain.labels), one filter per kind
templates.env.filters.update(LABEL_FILTERS)

NAV_BY_ROLE: dict[Role, list[tuple[str, str]]] = {
    Role.family: [
        ("/famille/factures", "Mes factures"),
        ("/famille/paiements", "Mes paiements"),
        ("/famille/preferences", "Mes préférences"),
    ],
    Role.inspector: [("/inspecteur/missions", "Mes missions")],
}


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


def csrf_for(request: Request) -> str:
    """A CSRF token bound to the caller's session cookie (empty when anonymous)."""
    token = request.cookies.get(SESSION_COOKIE)
    signer: TokenSigner = request.app.state.signer
    return signer.csrf_token(token) if token else ""


def check_csrf(request: Request, token: str) -> None:
    """Refuse a form whose CSRF token was not issued for this session (403)."""
    session_token = request.cookies.get(SESSION_COOKIE)
    signer: TokenSigner = request.app.state.signer
    if not session_token or not signer.check_csrf(session_token, token):
        log.warning("pages.csrf_refused", path=request.url.path)
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Jeton de formulaire invalide")


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with the shared context (principal, navigation, CSRF token)."""
    principal = current_principal(request)
    nav = NAV_BY_ROLE.get(principal.role, []) if principal else []
    response = templates.TemplateResponse(
        request,
        template,
        {"principal": principal, "nav": nav, "csrf": csrf_for(request), "path": request.url.path, **context},
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


ERROR_TITLES = {
    401: "Connexion requise",
    403: "Accès refusé",
    404: "Page introuvable",
    405: "Action impossible",
    409: "Action impossible",
    410: "Lien expiré",
    422: "Données invalides",
    429: "Trop de demandes",
    500: "Erreur interne",
    503: "Service momentanément indisponible",
}


def error_page(request: Request, status_code: int, message: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    """The French error page (erreur.html): every page error, and every error outside the JSON API (api.errors)."""
    title = ERROR_TITLES.get(status_code, "Une erreur est survenue")
    response = render(request, "erreur.html", status_code, title=title, message=message)
    response.headers.update(headers or {})
    return response


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


@router.get("/connexion", response_class=HTMLResponse)
def sign_in_page(request: Request, erreur: str | None = None) -> Response:
    """The e-mail form asking for a sign-in link."""
    error = "Ce lien de connexion n'est plus valide : demandez-en un nouveau." if erreur == "lien" else None
    return render(request, "connexion.html", title="Connexion", error=error, email="")


@router.post("/connexion", response_class=HTMLResponse)
async def sign_in_submit(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    settings: SettingsDep,
    signer: SignerDep,
    notifier: NotifierDep,
    email: str = Form(""),
) -> Response:
    """Send the link (same answer whether the address is known or not); in dev, show it."""
    # No session exists yet, so no CSRF token: the action only mails a link to the typed address.
    try:
        body = MagicLinkRequest(email=email.strip())
    except ValidationError:
        return render(
            request,
            "connexion.html",
            422,
            title="Connexion",
            email=email,
            field_error="Saisissez une adresse e-mail valide, par exemple nom@exemple.fr.",
        )
    try:
        await sign_in_limit(request)
    except HTTPException:
        return error_page(request, 429, "Trop de demandes : réessayez dans une minute.")
    answer = await request_magic_link(body, request, background, session, settings, signer, notifier)
    return render(request, "connexion_envoye.html", title="Lien envoyé", message=answer.message, link=answer.dev_link)


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
