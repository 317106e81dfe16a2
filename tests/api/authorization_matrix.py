"""Who may call what: every route of the app with its declared rule, and the markdown matrix in docs/.

API routes declare their roles with an `api.security.require()` dependency (read here by introspection).
Pages check the session inside the handler with `signed_in(request, Role.x, ...)` (read here from the source,
`PAGES` overrides it); capability-token and infrastructure routes are listed in `PUBLIC` with the reason.
A route in none of the three is undeclared: the authorization test fails until someone decides who may call it.

Regenerate the document with `python -m tests.api.authorization_matrix` (the test checks it is up to date).
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from api.security import declared_roles
from ville.models.people import Role

ROOT = Path(__file__).resolve().parents[2]
DOC_PATH = ROOT / "docs" / "authorization.md"
ROLES: tuple[Role, ...] = tuple(Role)

# (method, path) → why no session is needed. "*" as method: every method (mounts).
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "liveness probe",
    ("GET", "/readyz"): "readiness probe",
    ("GET", "/metrics"): "Prometheus scrape, private network only (no personal data)",
    ("GET", "/openapi.json"): "API description",
    ("GET", "/docs"): "API documentation",
    ("HEAD", "/openapi.json"): "API description",
    ("HEAD", "/docs"): "API documentation",
    ("*", "/static"): "stylesheets and scripts",
    ("*", "/docs/assets"): "Swagger UI's packaged scripts and stylesheet",
    ("POST", "/auth/magic-link"): "sign-in (rate limited, same answer for unknown addresses)",
    ("GET", "/auth/callback"): "sign-in: one-time signed magic link",
    ("POST", "/auth/logout"): "sign-out",
    ("GET", "/auth/oidc/login"): "sign-in: redirect to the OpenID Connect provider",
    ("GET", "/auth/oidc/callback"): "sign-in: state, PKCE and nonce checked, ID token verified",
    ("POST", "/webhooks/stripe"): "Stripe signature is the authentication",
    ("GET", "/api/rif/link"): "partner's expiring signed link token",
    ("POST", "/api/rif/link/acknowledge"): "partner's expiring signed link token",
    ("POST", "/api/rif/link/accept"): "partner's expiring signed link token",
    ("POST", "/api/rif/link/refuse"): "partner's expiring signed link token",
    ("POST", "/api/rif/link/renew"): "partner's expired link token (asks the relay for a new one)",
    ("GET", "/api/rif/family/status"): "family's signed status link token",
    ("GET", "/api/rif/needs"): "reference list (categories of need), no personal data",
    ("GET", "/api/rif/refusal-reasons"): "reference list (refusal reasons, shown on the partner's link page)",
    ("GET", "/"): "landing page",
    ("GET", "/connexion"): "sign-in page",
    ("GET", "/exploitation"): "redirect to the operator console (which checks the session)",
    ("POST", "/connexion"): "sign-in form (rate limited)",
    ("GET", "/deconnexion"): "sign-out page",
    ("POST", "/deconnexion"): "sign-out form (CSRF checked when a session exists)",
    ("GET", "/partenaire/orientation"): "partner's expiring signed link token",
    ("POST", "/partenaire/orientation/accepter"): "partner's expiring signed link token",
    ("POST", "/partenaire/orientation/refuser"): "partner's expiring signed link token",
}

# Pages declare their roles by calling `api.pages.common.signed_in(request, *roles)` in the handler or in a
# helper of the same module (read here from the source). Overrides for what that reading cannot resolve:
PAGES: dict[tuple[str, str], frozenset[Role]] = {}
# the guards pages call, and where their roles start among the positional arguments
# (`api.pages.family.reading.read_signed_in(request, read, *roles)` calls `signed_in` in its reading thread)
GUARDS = {"signed_in": 1, "read_signed_in": 2}

Kind = Literal["api", "page", "public", "undeclared"]


@dataclass(frozen=True)
class RouteRule:
    """One method of one route and who may call it."""

    method: str
    path: str
    kind: Kind
    roles: frozenset[Role]
    note: str = ""

    def allows(self, role: Role | None) -> bool:
        """True when `role` (None: anonymous) may call the route."""
        if self.kind == "public":
            return True
        return role is not None and role in self.roles


def _roles_in(dependant: Dependant | None) -> list[frozenset[Role]]:
    """Every `require()` found in a dependency tree."""
    if dependant is None:
        return []
    found: list[frozenset[Role]] = []
    roles = declared_roles(dependant.call)
    if roles is not None:
        found.append(roles)
    for sub in dependant.dependencies:
        found.extend(_roles_in(sub))
    return found


def _resolve_roles(node: ast.expr, names: dict[str, Any]) -> set[Role]:
    """Roles named by a `signed_in` argument: `Role.x`, a module constant, or `*A_TUPLE_OF_ROLES`."""
    if isinstance(node, ast.Starred):
        return _resolve_roles(node.value, names)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Role":
        return {Role(node.attr)}
    if isinstance(node, ast.Name):
        value = names.get(node.id)
        if isinstance(value, Role):
            return {value}
        if isinstance(value, (tuple, list, set, frozenset)) and all(isinstance(v, Role) for v in value):
            return set(value)
    raise ValueError(f"cannot resolve the roles of signed_in(...): {ast.unparse(node)}")


def page_roles(func: Any, seen: set[Any] | None = None) -> frozenset[Role] | None:
    """Roles a page handler admits through `signed_in(request, ...)`, followed into same-module helpers."""
    seen = set() if seen is None else seen
    seen.add(func)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError):
        return None
    names = func.__globals__
    direct: list[frozenset[Role]] = []
    helpers: list[frozenset[Role]] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id in GUARDS:
            roles: set[Role] = set()
            for arg in node.args[GUARDS[node.func.id] :]:
                roles |= _resolve_roles(arg, names)
            direct.append(frozenset(roles))
            continue
        helper = names.get(node.func.id)
        if inspect.isfunction(helper) and helper.__module__ == func.__module__ and helper not in seen:
            inner = page_roles(helper, seen)
            if inner is not None:
                helpers.append(inner)
    # the handler's own guard decides; helpers only when it has none. Several guards: the caller passes all.
    found = direct or helpers
    return frozenset.intersection(*found) if found else None


def _routes(app: FastAPI) -> Iterator[tuple[str, str, Any]]:
    """(method, path, route context) for every method of every route, included routers flattened."""
    for ctx in iter_route_contexts(app.routes):
        if isinstance(ctx.original_route, Mount):
            yield "*", str(ctx.path), ctx
            continue
        for method in sorted(ctx.methods or ()):
            yield method, str(ctx.path_format or ctx.path), ctx


def route_rules(app: FastAPI) -> list[RouteRule]:
    """The declared rule of every route (kind "undeclared" when it has none)."""
    rules: list[RouteRule] = []
    for method, path, ctx in _routes(app):
        key = (method, path)
        found = _roles_in(getattr(ctx, "dependant", None))
        if found:
            # several require() in one tree: the caller must pass all of them
            roles = frozenset.intersection(*found)
            rules.append(RouteRule(method, path, "api", roles))
        elif key in PAGES:
            rules.append(RouteRule(method, path, "page", PAGES[key] | {Role.admin}))
        elif key in PUBLIC:
            rules.append(RouteRule(method, path, "public", frozenset(ROLES), PUBLIC[key]))
        elif (guarded := page_roles(getattr(ctx, "endpoint", None))) is not None:
            rules.append(RouteRule(method, path, "page", guarded | {Role.admin}))
        else:
            rules.append(RouteRule(method, path, "undeclared", frozenset()))
    return sorted(rules, key=lambda r: (r.path, r.method))


def stale_declarations(rules: Iterable[RouteRule]) -> list[tuple[str, str]]:
    """Entries of PUBLIC or PAGES that no longer match a route (or that a require() now covers)."""
    seen = {(r.method, r.path): r.kind for r in rules}
    stale = [k for k in PUBLIC if seen.get(k) != "public"]
    stale += [k for k in PAGES if seen.get(k) != "page"]
    return stale


_ABBREV = {
    Role.family: "fam",
    Role.inspector: "insp",
    Role.partner: "part",
    Role.rif_agent: "rif",
    Role.coordinator: "coord",
    Role.billing_operator: "bill",
    Role.quality_team: "qual",
    Role.operator: "op",
    Role.admin: "admin",
}


def render_markdown(rules: Iterable[RouteRule]) -> str:
    """The role × route matrix as markdown (generated: do not edit by hand)."""
    header = "| method | route | kind | " + " | ".join(_ABBREV[r] for r in ROLES) + " | anonymous |"
    lines = [
        "# Authorization matrix",
        "",
        "<!-- Generated by `python -m tests.api.authorization_matrix`; checked by"
        " tests/api/test_authorization_matrix.py. Do not edit by hand. -->",
        "",
        "Who may call each route. ✓ allowed, · refused (API: 401 without a session, 403 with another role;"
        " pages: redirect to `/connexion` or to the role's home). Object-level checks come on top: a foreign"
        " id answers 404 (a family's foreign invoice or payment, another inspector's task, another partner's"
        " referral). Public routes are authenticated otherwise (signed link token, Stripe signature) or"
        " expose nothing personal; the reason is in the last table.",
        "",
        "Roles: " + ", ".join(f"`{_ABBREV[r]}` = {r.value}" for r in ROLES) + ".",
        "",
        header,
        "|" + "---|" * (len(ROLES) + 4),
    ]
    public: list[RouteRule] = []
    for rule in rules:
        if rule.kind == "public":
            public.append(rule)
        cells = ["✓" if rule.allows(role) else "·" for role in ROLES]
        cells.append("✓" if rule.allows(None) else "·")
        lines.append(f"| {rule.method} | `{rule.path}` | {rule.kind} | " + " | ".join(cells) + " |")
    lines += ["", "## Public routes", "", "| method | route | why no session |", "|---|---|---|"]
    lines += [f"| {r.method} | `{r.path}` | {r.note} |" for r in public]
    return "\n".join(lines) + "\n"


def build_app() -> FastAPI:
    """The app with throwaway settings: only its routes are read (nothing is connected)."""
    from api.app import create_app
    from ville.settings import Settings

    # a file URL: the in-memory one's pool refuses the engine's pool options; nothing is opened
    settings = Settings(env="test", database_url="sqlite:////tmp/authorization-matrix.db", _env_file=None)
    return create_app(settings, temporal=None)


def main(argv: list[str]) -> int:
    """Write docs/authorization.md, or with `--check` fail when it is out of date or a route is undeclared."""
    rules = route_rules(build_app())
    undeclared = [f"{r.method} {r.path}" for r in rules if r.kind == "undeclared"]
    if undeclared:
        sys.stderr.write("routes without a declared rule: " + ", ".join(undeclared) + "\n")
        return 1
    text = render_markdown(rules)
    if "--check" in argv:
        return 0 if DOC_PATH.read_text(encoding="utf-8") == text else 1
    DOC_PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
