"""OpenID Connect sign-in against a conformant provider served over HTTP: success and every refusal."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError
from sqlmodel import select
from structlog.testing import capture_logs
from temporalio.client import Client

from api.app import create_app
from api.oidc import pkce_challenge
from api.routes.auth import OIDC_COOKIE, oidc_limit
from api.security import SESSION_COOKIE
from tests.api.oidc_provider import TestProvider, serve_provider
from ville.db import SessionFactory
from ville.models.oidc import OidcIdentity
from ville.models.people import Role, UserAccount
from ville.settings import Settings

CALLBACK = "http://testserver/auth/oidc/callback"


@pytest.fixture
def provider() -> Iterator[TestProvider]:
    """The provider, listening on loopback."""
    with serve_provider(TestProvider()) as p:
        yield p


@pytest.fixture
def oidc_app(settings: Settings, temporal_client: Client, provider: TestProvider) -> FastAPI:
    """The app with the provider configured."""
    oidc_limit._buckets.clear()  # the limiter is per process: earlier tests must not use up this one's budget
    configured = settings.model_copy(
        update={
            "oidc_issuer": provider.issuer,
            "oidc_client_id": provider.client_id,
            "oidc_client_secret": SecretStr(provider.client_secret),
            "oidc_redirect_url": CALLBACK,
            "oidc_scopes": "openid email",
        }
    )
    assert configured.oidc_enabled
    return create_app(configured, temporal=temporal_client)


@pytest.fixture
async def browser(oidc_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on the app (keeps cookies)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=oidc_app), base_url="http://testserver") as c:
        yield c


@dataclass
class Outcome:
    """The app's answer to the provider's redirect back."""

    response: httpx.Response
    authorize_query: dict[str, str]

    @property
    def session_cookie(self) -> str | None:
        """The session cookie the answer sets, if any."""
        for header in self.response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name == SESSION_COOKIE and rest.split(";")[0].strip('"'):
                return rest.split(";")[0]
        return None


async def sign_in(browser: httpx.AsyncClient, change_state: bool = False) -> Outcome:
    """Login at the app, consent at the provider (real HTTP), come back to the callback."""
    login = await browser.get("/auth/oidc/login")
    assert login.status_code == 303, login.text
    assert browser.cookies.get(OIDC_COOKIE)
    authorize_url = login.headers["location"]
    async with httpx.AsyncClient() as internet:
        consent = await internet.get(authorize_url)
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    query = back.query
    if change_state:
        params = {k: v[0] for k, v in parse_qs(query).items()}
        query = httpx.QueryParams({**params, "state": "forged-" + params["state"]}).__str__()
    response = await browser.get(f"/auth/oidc/callback?{query}")
    return Outcome(response, {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()})


def _user(sessions: SessionFactory, role: Role = Role.family) -> UserAccount:
    u = uuid.uuid4().hex[:8]
    with sessions() as s:
        user = UserAccount(email=f"oidc-{u}@exemple.fr", display_name="Camille", role=role, inspector_id=None)
        s.add(user)
        s.commit()
        s.refresh(user)
        return user


def _links(sessions: SessionFactory, subject: str) -> list[OidcIdentity]:
    with sessions() as s:
        return list(s.exec(select(OidcIdentity).where(OidcIdentity.subject == subject)).all())


async def test_sign_in_opens_the_same_session_as_the_magic_link(
    browser: httpx.AsyncClient, provider: TestProvider, oidc_app: FastAPI, sessions: SessionFactory
) -> None:
    user = _user(sessions)
    subject = f"fc-{uuid.uuid4().hex}"
    provider.user = {"sub": subject, "email": user.email.upper(), "email_verified": True}
    outcome = await sign_in(browser)
    assert outcome.response.status_code == 303
    assert outcome.response.headers["location"] == "/famille/factures"
    cookie = outcome.session_cookie
    assert cookie is not None
    principal = oidc_app.state.signer.read_session(cookie)
    assert principal is not None and principal.user_id == user.id and principal.role is Role.family
    # the flow's cookie is spent, and the provider saw PKCE S256, a nonce and our redirect URI
    assert not browser.cookies.get(OIDC_COOKIE)
    sent = outcome.authorize_query
    assert sent["code_challenge_method"] == "S256" and sent["nonce"] and sent["state"]
    assert sent["redirect_uri"] == CALLBACK and sent["scope"] == "openid email"
    assert pkce_challenge(provider.token_requests[-1]["code_verifier"]) == sent["code_challenge"]
    assert provider.token_requests[-1]["client_secret"] == provider.client_secret  # client_secret_post
    # the subject is now linked: the next sign-in finds the account even if the e-mail changed
    assert [link.user_id for link in _links(sessions, subject)] == [user.id]
    provider.user = {"sub": subject, "email": "nouvelle-adresse@exemple.fr"}
    again = await sign_in(browser)
    assert again.response.status_code == 303 and again.session_cookie is not None
    # and the session works on the API
    me = await browser.get("/api/family/invoices", headers={"Authorization": f"Bearer {cookie}"})
    assert me.status_code != 401


async def test_the_email_can_come_from_userinfo(
    browser: httpx.AsyncClient, provider: TestProvider, sessions: SessionFactory
) -> None:
    user = _user(sessions, Role.inspector)
    provider.user = {"sub": f"fc-{uuid.uuid4().hex}", "email": user.email}
    provider.tamper = {"drop": ["email"]}  # the ID token says nothing about the e-mail
    outcome = await sign_in(browser)
    assert provider.userinfo_requests == 1
    assert outcome.response.status_code == 303
    assert outcome.response.headers["location"] == "/inspecteur/missions"


def _other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# case → (how the provider spoils the ID token, the reason the relying party logs)
REFUSALS: dict[str, tuple[dict[str, Any], str]] = {
    "wrong_nonce": ({"claims": {"nonce": "another-sign-in"}}, "token_nonce_mismatch"),
    "missing_nonce": ({"drop": ["nonce"]}, "token_nonce_mismatch"),
    "wrong_audience": ({"claims": {"aud": "another-client"}}, "token_audience_mismatch"),
    "expired": ({"claims": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}}, "token_expired"),
    "wrong_issuer": ({"claims": {"iss": "https://evil.example"}}, "token_issuer_mismatch"),
    "bad_signature": ({"key": "other"}, "token_signature_invalid"),
    "hs256_with_the_client_secret": ({"algorithm": "HS256"}, "token_algorithm_refused"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
async def test_a_forged_or_stale_id_token_is_refused_with_no_session(
    case: str, browser: httpx.AsyncClient, provider: TestProvider, sessions: SessionFactory
) -> None:
    user = _user(sessions)
    subject = f"fc-{uuid.uuid4().hex}"
    provider.user = {"sub": subject, "email": user.email}
    tamper, reason = REFUSALS[case]
    provider.tamper = {**tamper, "key": _other_key()} if tamper.get("key") == "other" else tamper
    with capture_logs() as logs:
        outcome = await sign_in(browser)
    assert outcome.response.status_code == 401
    assert "a échoué" in outcome.response.text
    assert outcome.session_cookie is None
    assert _links(sessions, subject) == []
    refused = [e for e in logs if e["event"] == "auth.oidc_refused"]
    assert [e["reason"] for e in refused] == [reason]
    assert user.email not in repr(logs) and subject not in repr(logs)


async def test_a_state_mismatch_is_refused_before_the_code_is_used(
    browser: httpx.AsyncClient, provider: TestProvider, sessions: SessionFactory
) -> None:
    user = _user(sessions)
    provider.user = {"sub": f"fc-{uuid.uuid4().hex}", "email": user.email}
    outcome = await sign_in(browser, change_state=True)
    assert outcome.response.status_code == 401
    assert outcome.session_cookie is None
    assert provider.token_requests == []  # the code was never exchanged


async def test_a_callback_without_the_flow_cookie_or_replayed_is_refused(
    browser: httpx.AsyncClient, provider: TestProvider, sessions: SessionFactory
) -> None:
    user = _user(sessions)
    provider.user = {"sub": f"fc-{uuid.uuid4().hex}", "email": user.email}
    login = await browser.get("/auth/oidc/login")
    async with httpx.AsyncClient() as internet:
        back = urlsplit((await internet.get(login.headers["location"])).headers["location"])
    flow_cookie = browser.cookies.get(OIDC_COOKIE)
    browser.cookies.clear()  # another browser (an attacker's link): no flow cookie
    stranger = await browser.get(f"/auth/oidc/callback?{back.query}")
    assert stranger.status_code == 401 and SESSION_COOKIE not in stranger.headers.get("set-cookie", "")
    browser.cookies.set(OIDC_COOKIE, flow_cookie or "", domain="testserver.local", path="/auth/oidc")
    first = await browser.get(f"/auth/oidc/callback?{back.query}")
    assert first.status_code == 303
    browser.cookies.set(OIDC_COOKIE, flow_cookie or "", domain="testserver.local", path="/auth/oidc")
    replayed = await browser.get(f"/auth/oidc/callback?{back.query}")
    assert replayed.status_code == 401
    assert SESSION_COOKIE not in replayed.headers.get("set-cookie", "")


async def test_an_unknown_identity_gets_a_clear_error(
    browser: httpx.AsyncClient, provider: TestProvider, sessions: SessionFactory
) -> None:
    subject = f"fc-{uuid.uuid4().hex}"
    provider.user = {"sub": subject, "email": f"inconnu-{uuid.uuid4().hex[:6]}@exemple.fr", "email_verified": True}
    outcome = await sign_in(browser)
    assert outcome.response.status_code == 403
    assert "aucun compte de la Ville" in outcome.response.text
    assert outcome.session_cookie is None
    assert _links(sessions, subject) == []


async def test_an_unverified_email_does_not_match_an_account(
    browser: httpx.AsyncClient, provider: TestProvider, sessions: SessionFactory
) -> None:
    user = _user(sessions)
    provider.user = {"sub": f"fc-{uuid.uuid4().hex}", "email": user.email, "email_verified": False}
    outcome = await sign_in(browser)
    assert outcome.response.status_code == 403 and outcome.session_cookie is None


async def test_the_sign_in_page_shows_the_button_only_when_configured(
    browser: httpx.AsyncClient, client_for: Any
) -> None:
    configured = await browser.get("/connexion")
    assert 'href="/auth/oidc/login"' in configured.text and "FranceConnect" in configured.text
    plain = client_for(None)
    page = await plain.get("/connexion")
    assert page.status_code == 200 and "/auth/oidc/login" not in page.text
    assert (await plain.get("/auth/oidc/login")).status_code == 404
    assert (await plain.get("/auth/oidc/callback?code=x&state=y")).status_code == 404


def test_production_refuses_an_http_issuer_or_a_placeholder_secret(settings: Settings) -> None:
    base: dict[str, Any] = {
        "env": "production",
        "session_secret_keys": SecretStr("k" * 40),
        "codec_keys": SecretStr("k1:" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()),
        "stripe_webhook_secret": SecretStr("whsec_" + "x" * 30),
        "stripe_api_key": SecretStr("sk_live_" + "x" * 30),
        "oidc_client_id": "ville",
        "_env_file": None,
    }
    with pytest.raises(ValidationError, match="OIDC_ISSUER"):
        Settings(**base, oidc_issuer="http://idp.example", oidc_client_secret=SecretStr("s" * 30))
    with pytest.raises(ValidationError, match="OIDC_CLIENT_SECRET"):
        Settings(**base, oidc_issuer="https://idp.example", oidc_client_secret=SecretStr("change-me"))
