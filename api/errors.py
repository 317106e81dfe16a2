"""One JSON error format for every API failure: {"error": {"code", "message", "fields"}}; a French page elsewhere.

Who gets what is decided by the path alone: the JSON envelope under `JSON_PREFIXES` (the API, Stripe's webhooks,
Temporal's codec server, the JSON sign-in endpoints and the probes), a French HTML page everywhere else (the pages,
a magic link clicked in a browser, an unknown URL). An Accept header does not change it: one rule, easy to predict.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

log = structlog.get_logger(__name__)
JSON_PREFIXES = ("/api", "/webhooks", "/codec", "/auth/magic-link", "/auth/logout", "/healthz", "/readyz", "/metrics")
ErrorPage = Callable[[Request, int, str, dict[str, str] | None], Response]
# What a person reads on an error page when the error carries no French message of its own.
PAGE_MESSAGES = {
    401: "Connectez-vous pour accéder à cette page.",
    403: "Vous n'avez pas accès à cette page.",
    404: "Cette page n'existe pas ou ne vous est pas accessible.",
    405: "Cette adresse ne s'ouvre pas de cette façon : revenez à la page précédente.",
    422: "Les informations envoyées sont incomplètes ou invalides.",
    429: "Trop de demandes : réessayez dans une minute.",
    500: "Une erreur inattendue est survenue. Réessayez dans quelques instants.",
}


def wants_json(path: str) -> bool:
    """True when an error on this path answers the JSON envelope (else a French page)."""
    return any(path == p or path.startswith(p + "/") for p in JSON_PREFIXES)


def page_message(status_code: int, detail: object) -> str:
    """The French sentence of an error page: the error's own message, unless it is Starlette's English default."""
    if isinstance(detail, dict) and "message" in detail:
        detail = detail["message"]
    english = {s.phrase for s in HTTPStatus}
    if status_code == 404 or not isinstance(detail, str) or not detail or detail in english:
        # a 404 never says what was missing (another family's invoice looks like no invoice at all)
        return PAGE_MESSAGES.get(status_code, PAGE_MESSAGES[500])
    return detail


def error_body(code: str, message: str, fields: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The error envelope used by every route."""
    return {"error": {"code": code, "message": message, "fields": fields or []}}


def install_error_handlers(app: FastAPI, page: ErrorPage | None = None) -> None:
    """Map validation, HTTP and unexpected errors to the one format, or to `page` outside the API (no stack trace)."""

    def html(request: Request) -> bool:
        return page is not None and not wants_json(request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if page is not None and html(request):
            return page(request, 422, PAGE_MESSAGES[422], None)
        fields = [{"field": ".".join(str(p) for p in err["loc"]), "message": str(err["msg"])} for err in exc.errors()]
        return JSONResponse(
            error_body("validation_error", "Données invalides", fields),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail
        if page is not None and html(request):
            return page(request, exc.status_code, page_message(exc.status_code, detail), getattr(exc, "headers", None))
        if isinstance(detail, dict) and "fields" in detail:
            body = error_body(str(detail.get("code", "invalid")), str(detail["message"]), detail["fields"])
        else:
            body = error_body(_code(exc.status_code), str(detail))
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(DataError)
    async def _unstorable(_: Request, exc: DataError) -> JSONResponse:
        # a value the request carried that the database cannot hold: an id beyond PostgreSQL's integer, a NUL in
        # a text (SQLite stores both and answered 404 or 201; PostgreSQL refuses them): the request is at fault
        log.warning("api.unstorable_value", error_type=type(exc.orig).__name__)
        return JSONResponse(
            error_body("validation_error", "Valeur hors des limites acceptées"),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    install_openapi_errors(app)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("api.unexpected_error", error_type=type(exc).__name__)
        if page is not None and html(request):
            try:
                return page(request, 500, PAGE_MESSAGES[500], None)
            except Exception:  # the page itself failed: answer the envelope rather than nothing
                log.exception("api.error_page_failed")
        return JSONResponse(error_body("internal_error", "Erreur interne"), status_code=500)


ERROR_SCHEMA: dict[str, Any] = {
    "title": "ErrorBody",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        }
    },
}
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_DESCRIPTIONS = {
    "400": "Requête invalide",
    "401": "Authentification requise",
    "403": "Accès refusé pour ce rôle",
    "404": "Introuvable (ou appartenant à un autre compte)",
    "409": "Conflit avec l'état du processus",
    "413": "Trop volumineux",
    "415": "Type de contenu non pris en charge",
    "422": "Données invalides",
    "429": "Trop de requêtes",
    "503": "Service momentanément indisponible",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: these statuses answer the error envelope (`document_errors` adds its schema)."""
    return {code: {"description": _DESCRIPTIONS.get(str(code), "Erreur")} for code in codes}


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document tell the truth about errors: every error answers the one envelope.

    422 is ours, not FastAPI's `HTTPValidationError`; operations with a body answer 400 when it cannot be read;
    operations that require a session answer 401 and 403; those with a path parameter answer 404 for a missing
    or foreign id.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorBody"] = ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            wanted = [code for code in responses if code[:1] in ("4", "5")]
            if "requestBody" in operation:
                wanted.append("400")  # a body that cannot be read at all (not JSON, not a form)
            if operation.get("security"):
                wanted += ["401", "403"]
            if "{" in path:
                wanted.append("404")
            for code in wanted:
                entry = responses.setdefault(code, {})
                entry.setdefault("description", _DESCRIPTIONS.get(code, "Erreur"))
                entry["content"] = {"application/json": {"schema": _ERROR_REF}}
    if not components:
        schema["components"].pop("schemas")
    return schema


def install_openapi_errors(app: FastAPI) -> None:
    """Post-process the generated OpenAPI document once, with `document_errors`."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def temporal_refusal(err: RPCError, closed_message: str) -> HTTPException:
    """A Temporal call that failed outright: 409 when the process has ended, 503 when Temporal is unreachable."""
    if err.status is RPCStatusCode.NOT_FOUND:
        return HTTPException(status.HTTP_409_CONFLICT, closed_message)
    log.warning("temporal.call_failed", status=str(err.status))
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Service momentanément indisponible")


def field_error(field: str, message: str, status_code: int = 422) -> HTTPException:
    """A business validation error naming the offending field."""
    return HTTPException(
        status_code,
        {"code": "validation_error", "message": message, "fields": [{"field": field, "message": message}]},
    )


def _code(status_code: int) -> str:
    return {
        400: "bad_request",
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "too_large",
        415: "unsupported_media_type",
        429: "rate_limited",
    }.get(status_code, "error")
