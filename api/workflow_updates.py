"""One mapping from a workflow's refusal (a failed update, or Temporal's own error) to an HTTP answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

import structlog
from fastapi import HTTPException, status
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from api.errors import temporal_refusal
from api.security import not_found

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Refusals:
    """How one workflow's `ApplicationError` types read over HTTP; any other type is a rule broken (422)."""

    closed: str  # the answer (409) once the workflow has ended
    not_found: frozenset[str] = frozenset()  # 404: unknown, or not the caller's (never tell which)
    conflict: frozenset[str] = frozenset()  # 409: the action does not fit the current state


def refusal(err: WorkflowUpdateFailedError | RPCError, kinds: Refusals) -> HTTPException:
    """The HTTP answer to a refused update: 404, 409, or 422 naming the fields the workflow gave."""
    if isinstance(err, RPCError):
        return temporal_refusal(err, kinds.closed)
    cause = err.cause
    if not isinstance(cause, ApplicationError):
        log.warning("workflow.update_failed", error=type(cause).__name__)
        return HTTPException(status.HTTP_409_CONFLICT, "Action refusée.")
    if cause.type in kinds.not_found:
        return not_found()
    if cause.type in kinds.conflict:
        return HTTPException(status.HTTP_409_CONFLICT, cause.message)
    fields = cause.details[0] if cause.details and isinstance(cause.details[0], list) else []
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        {"code": "validation_error", "message": cause.message, "fields": fields},
    )


def refused(err: WorkflowUpdateFailedError | RPCError, kinds: Refusals) -> NoReturn:
    """Raise `refusal(err, kinds)`, chained to the Temporal error."""
    raise refusal(err, kinds) from err


async def execute_update(handle: WorkflowHandle[Any, Any], update: Any, arg: Any, kinds: Refusals) -> Any:
    """Run a workflow update; a refusal becomes its HTTP answer."""
    try:
        return await handle.execute_update(update, arg)
    except (WorkflowUpdateFailedError, RPCError) as err:
        refused(err, kinds)
