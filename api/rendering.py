"""Page rendering: the Jinja templates and their filters, the shared context, the French error page."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.form_dates import DATE_PATTERN, format_form_date
from api.security import SESSION_COOKIE, TokenSigner, current_principal
from domain.calendar import PARIS, format_date_fr
from domain.labels import FILTERS as LABEL_FILTERS
from domain.money import format_eur
from ville.models.people import Role

templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
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
        ("/famille/mandat", "Prélèvement"),
        ("/famille/attestations", "Attestations annuelles"),
    ],
    Role.inspector: [("/inspecteur/missions", "Mes missions")],
    Role.rif_agent: [("/rif/dossiers", "Dossiers du relais"), ("/rif/dossiers/nouveau", "Ouvrir un dossier")],
    Role.coordinator: [("/rif/dossiers", "Dossiers du relais")],
}


def csrf_for(request: Request) -> str:
    """A CSRF token bound to the caller's session cookie (empty when anonymous)."""
    token = request.cookies.get(SESSION_COOKIE)
    signer: TokenSigner = request.app.state.signer
    return signer.csrf_token(token) if token else ""


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
