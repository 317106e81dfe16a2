"""A small OpenID Connect provider for tests, served over real HTTP on loopback.

Discovery, JWKS (a generated RSA key), an authorization endpoint that consents at once for `provider.user`,
a token endpoint that checks the client's secret, the redirect URI, the one-time code and the PKCE S256
verifier, and a userinfo endpoint. `provider.tamper` changes the next ID tokens (claims, key, algorithm) so
that tests can check what the relying party refuses.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class Grant:
    """An authorization code waiting for its exchange."""

    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str
    claims: dict[str, Any]
    used: bool = False


@dataclass
class TestProvider:
    """The provider's state: its client, its key, the signed-in user, the codes and what it received."""

    __test__ = False  # not a pytest test class

    client_id: str = "ville-paris"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    kid: str = "key-1"
    user: dict[str, Any] = field(default_factory=dict)
    tamper: dict[str, Any] = field(default_factory=dict)
    issuer: str = ""
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    userinfo_requests: int = 0

    def discovery(self) -> dict[str, Any]:
        """The OpenID Provider metadata."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "scopes_supported": ["openid", "email", "profile"],
        }

    def jwks(self) -> dict[str, Any]:
        """The public key set."""
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def authorize(self, query: dict[str, str]) -> str:
        """Consent for `user` at once; the redirect back to the client with a one-time code."""
        self.authorize_requests.append(query)
        if query.get("client_id") != self.client_id or query.get("code_challenge_method") != "S256":
            raise ValueError("invalid_request")
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(
            self.client_id, query["redirect_uri"], query.get("nonce", ""), query["code_challenge"], dict(self.user)
        )
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, dict[str, Any]]:
        """The code exchange: client authentication, one-time code, redirect URI and PKCE checked."""
        self.token_requests.append(form)
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if client_id != self.client_id or not secrets.compare_digest(secret, self.client_secret):
            return 401, {"error": "invalid_client"}
        grant = self.grants.get(form.get("code", ""))
        if form.get("grant_type") != "authorization_code" or grant is None or grant.used:
            return 400, {"error": "invalid_grant"}
        grant.used = True
        if form.get("redirect_uri") != grant.redirect_uri or _s256(form.get("code_verifier", "")) != grant.challenge:
            return 400, {"error": "invalid_grant"}
        access = secrets.token_urlsafe(16)
        self.tokens[access] = grant.claims
        return 200, {"access_token": access, "token_type": "Bearer", "expires_in": 60, "id_token": self.id_token(grant)}

    def id_token(self, grant: Grant) -> str:
        """A signed ID token for the grant, changed by `tamper` if asked."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": grant.claims["sub"],
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            **{k: v for k, v in grant.claims.items() if k in ("email", "email_verified")},
        }
        claims.update(self.tamper.get("claims", {}))
        for name in self.tamper.get("drop", ()):
            claims.pop(name, None)
        if self.tamper.get("algorithm") == "HS256":
            return jwt.encode(claims, self.client_secret, "HS256", headers={"kid": self.kid})
        key = self.tamper.get("key", self.key)
        return jwt.encode(claims, key, "RS256", headers={"kid": self.kid})

    def userinfo(self, authorization: str) -> tuple[int, dict[str, Any]]:
        """The claims of the access token's user."""
        self.userinfo_requests += 1
        claims = self.tokens.get(authorization.removeprefix("Bearer ").strip())
        return (200, claims) if claims is not None else (401, {"error": "invalid_token"})


def _handler(provider: TestProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep pytest's output clean
            return

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                self._json(200, provider.discovery())
            elif url.path == "/jwks":
                self._json(200, provider.jwks())
            elif url.path == "/authorize":
                try:
                    location = provider.authorize(query)
                except (ValueError, KeyError):
                    self._json(400, {"error": "invalid_request"})
                    return
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif url.path == "/userinfo":
                self._json(*provider.userinfo(self.headers.get("Authorization", "")))
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            basic = None
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                basic = (user, password)
            if urlsplit(self.path).path == "/token":
                self._json(*provider.token(form, basic))
            else:
                self._json(404, {"error": "not_found"})

    return Handler


@contextmanager
def serve_provider(provider: TestProvider) -> Iterator[TestProvider]:
    """Serve the provider on a free loopback port for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.issuer = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="oidc-provider", daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
