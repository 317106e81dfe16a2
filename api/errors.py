"""One JSON error format for every failure: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

log = structlog.get_logger(__name__)


def error_body(code: str, message: str, fields: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The error envelope used by every route."""
    return {"error": {"code": code, "message": message, "fields": fields or []}}


def install_error_handlers(app: FastAPI) -> None:
    """Map validation, HTTP and unexpected errors to the one format (never a stack trace)."""

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [{"field": ".".join(str(p) for p in err["loc"]), "message": str(err["msg"])} for err in exc.errors()]
        return JSONResponse(
            error_body("validation_error", "Données invalides", fields),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        if isinstance(detail, dict) and "fields" in detail:
            body = error_body(str(detail.get("code", "invalid")), str(detail["message"]), detail["fields"])
        else:
            body = error_body(_code(exc.status_code), str(detail))
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("api.unexpected_error", error_type=type(exc).__name__)
        return JSONResponse(error_body("internal_error", "Erreur interne"), status_code=500)


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
