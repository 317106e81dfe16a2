"""Shared page machinery: the sign-in guard, CSRF, the one page exception handler; rendering in api.rendering."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.engine import Connection

from api.security import HOME_BY_ROLE, SESSION_COOKIE, Principal, TokenSigner, current_principal, log_refusal
from ville.models.people import Role

log = structlog.get_logger(__name__)


class PageRedirect(Exception):
    """Raised by page guards; routers turn it into a redirect (pages never answer JSON errors)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def signed_in(request: Request, *roles: Role, connection: Connection | None = None) -> Principal:
    """The caller if signed in with one of `roles` (admin admitted), else PageRedirect to /connexion; the account
    is read on `connection` when given."""
    principal = current_principal(request, connection)
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


class PageRoute(APIRoute):
    """The one exception handler of every page: a guard's PageRedirect becomes a 303 to its location.

    Any other error (HTTPException, validation) reaches the app's handlers, which answer the French error page
    outside the JSON API (api.errors); a form that shows its refusal in place catches that itself.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except PageRedirect as redirect:
                return RedirectResponse(redirect.location, status.HTTP_303_SEE_OTHER)

        return page_handler


def page_router(prefix: str = "") -> APIRouter:
    """A router of HTML pages: not in the OpenAPI document, guard redirects handled by PageRoute."""
    return APIRouter(prefix=prefix, tags=["pages"], include_in_schema=False, route_class=PageRoute)


def refusal_message(exc: HTTPException, default: str = "") -> str:
    """The French message of a refused action, to show in the form that sent it (envelope detail or plain text)."""
    detail = exc.detail
    message = str(detail.get("message", "")) if isinstance(detail, dict) else str(detail)
    return message or default
