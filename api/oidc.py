"""OpenID Connect sign-in (FranceConnect or any conformant provider): authorization code + PKCE + nonce + state.

The discovery document and the provider's keys (JWKS) are fetched with httpx and cached; the ID token is
verified with PyJWT: signature (RS256 or ES256 only, the key chosen by `kid`), `iss`, `aud` (and `azp`), `exp`,
`iat` and the `nonce` of this sign-in. Every refusal raises `OidcError` with a reason code for the logs, never
a claim value.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import structlog

from ville.settings import Settings

log = structlog.get_logger(__name__)

ALLOWED_ALGORITHMS = ("RS256", "ES256")
CACHE_SECONDS = 3600
JWKS_REFRESH_MIN_SECONDS = 30  # an unknown `kid` refetches the keys (rotation), at most this often
CLOCK_SKEW_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 10.0


class OidcError(Exception):
    """A sign-in refused or impossible; `reason` is a code safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OidcFlow:
    """The secrets of one sign-in, kept in a signed cookie between the redirect and the callback."""

    state: str
    nonce: str
    verifier: str

    @classmethod
    def new(cls) -> OidcFlow:
        """Fresh random state, nonce and PKCE verifier (43+ characters, RFC 7636)."""
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48))

    def claims(self) -> dict[str, str]:
        """The cookie's body."""
        return {"s": self.state, "n": self.nonce, "v": self.verifier}

    @classmethod
    def from_claims(cls, c: dict[str, Any]) -> OidcFlow:
        """Inverse of `claims`."""
        return cls(str(c["s"]), str(c["n"]), str(c["v"]))


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class VerifiedIdentity:
    """Who the provider says signed in: issuer, subject and the verified claims."""

    issuer: str
    subject: str
    claims: dict[str, Any]


class OidcClient:
    """The relying party of one configured provider; caches its discovery document and keys."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        assert settings.oidc_enabled and settings.oidc_issuer and settings.oidc_client_id
        assert settings.oidc_client_secret is not None
        self.issuer = settings.oidc_issuer
        self.client_id = settings.oidc_client_id
        self._secret = settings.oidc_client_secret
        self.redirect_uri = settings.oidc_callback_url
        self.scopes = settings.oidc_scopes
        self._clock = clock
        self._discovery: tuple[float, dict[str, Any]] | None = None
        self._jwks: tuple[float, jwt.PyJWKSet] | None = None
        self._lock = asyncio.Lock()

    async def _get(self, url: str, **headers: str) -> httpx.Response:
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
                response = await http.get(url, headers=headers)
        except httpx.HTTPError as err:
            raise OidcError("provider_unreachable") from err
        if response.status_code != 200:
            raise OidcError("provider_error")
        return response

    async def discovery(self) -> dict[str, Any]:
        """The provider's metadata (cached an hour); its issuer must be exactly the configured one."""
        now = self._clock()
        if self._discovery and now - self._discovery[0] < CACHE_SECONDS:
            return self._discovery[1]
        response = await self._get(f"{self.issuer.rstrip('/')}/.well-known/openid-configuration")
        try:
            doc = response.json()
        except ValueError as err:
            raise OidcError("discovery_invalid") from err
        if not isinstance(doc, dict) or doc.get("issuer") != self.issuer:
            raise OidcError("discovery_issuer_mismatch")
        if not all(isinstance(doc.get(k), str) for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")):
            raise OidcError("discovery_invalid")
        if "S256" not in doc.get("code_challenge_methods_supported", ["S256"]):
            raise OidcError("pkce_unsupported")
        self._discovery = (now, doc)
        return doc

    async def _keys(self, refresh: bool = False) -> jwt.PyJWKSet:
        now = self._clock()
        async with self._lock:
            cached = self._jwks
            fresh = cached is not None and now - cached[0] < CACHE_SECONDS
            recently = cached is not None and now - cached[0] < JWKS_REFRESH_MIN_SECONDS
            if cached is not None and ((fresh and not refresh) or recently):
                return cached[1]
            response = await self._get((await self.discovery())["jwks_uri"])
            try:
                keys = jwt.PyJWKSet.from_dict(response.json())
            except (ValueError, jwt.PyJWKSetError) as err:
                raise OidcError("jwks_invalid") from err
            self._jwks = (now, keys)
            return keys

    async def _key_for(self, token: str) -> tuple[jwt.PyJWK, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as err:
            raise OidcError("token_malformed") from err
        alg = header.get("alg")
        # a fixed list: never "none", never HS256 (the client secret must not verify a token)
        if alg not in ALLOWED_ALGORITHMS:
            raise OidcError("token_algorithm_refused")
        kid = header.get("kid")
        for refresh in (False, True):
            for key in (await self._keys(refresh)).keys:
                usable = key.public_key_use in (None, "sig") and key.algorithm_name == alg
                if usable and (kid is None or key.key_id == kid):
                    return key, alg
        raise OidcError("token_key_unknown")

    async def authorization_url(self, flow: OidcFlow) -> str:
        """Where to send the browser: code flow with state, nonce and the PKCE S256 challenge."""
        endpoint = (await self.discovery())["authorization_endpoint"]
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": self.scopes,
                "state": flow.state,
                "nonce": flow.nonce,
                "code_challenge": pkce_challenge(flow.verifier),
                "code_challenge_method": "S256",
            }
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def _exchange(self, code: str, flow: OidcFlow) -> dict[str, Any]:
        doc = await self.discovery()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": flow.verifier,
        }
        auth: httpx.Auth | None = None
        # client_secret_basic is the default of the spec; FranceConnect asks for client_secret_post
        if "client_secret_basic" in doc.get("token_endpoint_auth_methods_supported", ["client_secret_basic"]):
            auth = httpx.BasicAuth(self.client_id, self._secret.get_secret_value())
        else:
            form |= {"client_id": self.client_id, "client_secret": self._secret.get_secret_value()}
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
                response = await http.post(
                    doc["token_endpoint"], data=form, auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT
                )
        except httpx.HTTPError as err:
            raise OidcError("provider_unreachable") from err
        if response.status_code != 200:
            raise OidcError("token_exchange_refused")
        try:
            body = response.json()
        except ValueError as err:
            raise OidcError("token_response_invalid") from err
        if not isinstance(body, dict) or not isinstance(body.get("id_token"), str):
            raise OidcError("token_response_invalid")
        return body

    async def verify_id_token(self, token: str, nonce: str) -> dict[str, Any]:
        """The claims of a valid ID token issued to us for this sign-in's nonce."""
        key, alg = await self._key_for(token)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=self.client_id,
                issuer=self.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError as err:
            raise OidcError("token_expired") from err
        except jwt.InvalidAudienceError as err:
            raise OidcError("token_audience_mismatch") from err
        except jwt.InvalidIssuerError as err:
            raise OidcError("token_issuer_mismatch") from err
        except jwt.InvalidSignatureError as err:
            raise OidcError("token_signature_invalid") from err
        except jwt.InvalidTokenError as err:
            raise OidcError("token_invalid") from err
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise OidcError("token_audience_mismatch")
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OidcError("token_nonce_mismatch")
        return claims

    async def _userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        endpoint = (await self.discovery()).get("userinfo_endpoint")
        if not isinstance(endpoint, str):
            return {}
        response = await self._get(endpoint, Authorization=f"Bearer {access_token}")
        if response.headers.get("content-type", "").startswith("application/jwt"):
            # signed userinfo (FranceConnect v2): same keys and checks as the ID token, no nonce
            key, alg = await self._key_for(response.text)
            try:
                info: dict[str, Any] = jwt.decode(
                    response.text, key.key, [alg], audience=self.client_id, issuer=self.issuer
                )
            except jwt.InvalidTokenError as err:
                raise OidcError("userinfo_invalid") from err
        else:
            try:
                info = response.json()
            except ValueError as err:
                raise OidcError("userinfo_invalid") from err
        if not isinstance(info, dict) or info.get("sub") != subject:
            raise OidcError("userinfo_subject_mismatch")
        return info

    async def sign_in(self, code: str, flow: OidcFlow, wanted_claim: str | None = None) -> VerifiedIdentity:
        """Exchange the code (with the PKCE verifier), verify the ID token; fetch userinfo for a missing claim."""
        tokens = await self._exchange(code, flow)
        claims = await self.verify_id_token(tokens["id_token"], flow.nonce)
        if wanted_claim and wanted_claim not in claims and isinstance(tokens.get("access_token"), str):
            info = await self._userinfo(tokens["access_token"], claims["sub"])
            claims = {**info, **claims}
        return VerifiedIdentity(issuer=claims["iss"], subject=str(claims["sub"]), claims=claims)
