"""Errors in French for people (erreur.html), the JSON envelope for the API: the path decides (api.errors)."""

from __future__ import annotations

import html
import re

import httpx
from fastapi import FastAPI

from api.security import SESSION_COOKIE, Principal
from tests.accounts import session_token
from tests.api.conftest import ClientFactory
from ville.models.people import Role

FAMILY = Principal(user_id=987_654_321, role=Role.family, family_account_id=987_654_321)


def _page(response: httpx.Response, status: int, title: str) -> str:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert f"<h1>{title}</h1>" in response.text
    assert '<html lang="fr"' in response.text
    assert '"error"' not in response.text and "Not Found" not in response.text
    return html.unescape(response.text)


async def test_an_unknown_page_answers_the_french_404_page_and_the_api_keeps_its_envelope(
    client_for: ClientFactory,
) -> None:
    client = client_for(None)
    text = _page(await client.get("/page-qui-n-existe-pas"), 404, "Page introuvable")
    assert "Cette page n'existe pas ou ne vous est pas accessible." in text
    _page(await client.get("/famille/factures/FF-0000-000000/inconnu"), 404, "Page introuvable")

    api = await client.get("/api/inconnu")
    assert api.status_code == 404 and api.headers["content-type"] == "application/json"
    assert api.json() == {"error": {"code": "not_found", "message": "Not Found", "fields": []}}
    for path in ("/webhooks/inconnu", "/codec/inconnu"):
        assert (await client.get(path)).json()["error"]["code"] == "not_found"


async def test_a_wrong_method_or_missing_parameter_on_a_page_path_answers_in_french(client_for: ClientFactory) -> None:
    client = client_for(None)
    text = _page(await client.delete("/connexion"), 405, "Action impossible")
    assert "ne s'ouvre pas de cette façon" in text
    _page(await client.get("/auth/callback"), 422, "Données invalides")
    api = await client.delete("/api/family/invoices")
    assert api.status_code == 405 and api.json()["error"]["code"] == "method_not_allowed"


async def test_a_refused_form_answers_the_french_403_page(app: FastAPI, client_for: ClientFactory) -> None:
    client = client_for(None)
    client.cookies.set(SESSION_COOKIE, session_token(app, FAMILY))
    text = _page(await client.post("/deconnexion", data={"csrf": "pas-le-bon"}), 403, "Accès refusé")
    assert "Jeton de formulaire invalide" in text


async def test_a_magic_link_clicked_while_rate_limited_answers_the_french_429_page(client_for: ClientFactory) -> None:
    client = client_for(None)
    answers = [await client.get("/auth/callback", params={"token": "lien-invalide"}) for _ in range(12)]
    codes = [a.status_code for a in answers]
    assert set(codes) <= {303, 429}  # invalid link (back to the sign-in page), then the limit
    limited = next(a for a in answers if a.status_code == 429)
    text = _page(limited, 429, "Trop de demandes")
    assert "réessayez dans une minute" in text.lower() or "réessayez plus tard" in text.lower()
    assert limited.headers["retry-after"] == "10"
    # the JSON sign-in endpoint shares the bucket and keeps the API's envelope
    api = await client.post("/auth/magic-link", json={"email": "personne@exemple.fr"})
    assert api.status_code == 429 and api.json()["error"]["code"] == "rate_limited"


async def test_an_unexpected_error_answers_the_french_500_page_without_a_trace(app: FastAPI) -> None:
    async def broken() -> None:
        raise RuntimeError("secret détail interne")

    app.add_api_route("/essai/panne", broken, include_in_schema=False)
    app.add_api_route("/api/essai/panne", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        text = _page(await client.get("/essai/panne"), 500, "Erreur interne")
        assert "Une erreur inattendue est survenue" in text
        assert "secret" not in text and not re.search(r"Traceback|RuntimeError", text)
        api = await client.get("/api/essai/panne")
    assert api.status_code == 500
    assert api.json() == {"error": {"code": "internal_error", "message": "Erreur interne", "fields": []}}
