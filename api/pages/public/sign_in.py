"""The sign-in pages: the e-mail form and the answer once a link is sent (the API's magic link behind them)."""

from __future__ import annotations

from fastapi import BackgroundTasks, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.deps import NotifierDep, SessionDep, SettingsDep, SignerDep
from api.pages.common import page_router
from api.rendering import error_page, render
from api.routes.auth import MagicLinkRequest, request_magic_link, sign_in_limit

router = page_router()


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
