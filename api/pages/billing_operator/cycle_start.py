"""Console page to start a billing cycle: choose a period, read its preview, give a reason, start it.

The page goes through the JSON API's own service (`api.cycle_start`): the same 422 for a period not ended,
the same 409 for a cycle running, paused or done, the same single journal line for a start."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from api.audit_log import audit
from api.cycle_start import ended_period, paris_today, preview, start_period_cycle
from api.deps import BillingStoreDep, SessionDep, SettingsDep, TemporalDep
from api.pages.common import check_csrf, page_router, signed_in
from api.pages.console import BILLING_ROLES, console_page, done_redirect, required_motif
from domain.periods import BillingPeriod, period_for, previous_period
from services.billing import BillingStore
from ville.settings import Settings

log = structlog.get_logger(__name__)

router = page_router("/operateur/cycles/nouveau")


PERIODS_SHOWN = 6  # ended periods offered, most recent first


def _periods(settings: Settings) -> list[tuple[str, str]]:
    """The current period (not ended: a start is refused) and the last ended ones."""
    current = period_for(paris_today(), settings.billing_period_months)
    out = [(current.key, f"{current.label_fr} (en cours)")]
    p: BillingPeriod = current
    for _ in range(PERIODS_SHOWN):
        p = previous_period(p)
        out.append((p.key, p.label_fr))
    return out


def _message(exc: HTTPException) -> str:
    detail = exc.detail
    if isinstance(detail, dict):
        fields = detail.get("fields") or []
        return str(fields[0]["message"] if fields else detail.get("message", ""))
    return str(detail)


async def _form(
    request: Request,
    session: Session,
    settings: Settings,
    store: BillingStore,
    periode: str,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    """The page: period choice, and for a chosen period that has ended, its preview and the start form."""
    context: dict[str, Any] = {"periods": _periods(settings), "chosen": periode, "preview": None}
    if periode:
        try:
            period = ended_period(periode, settings, field="periode")
            context["preview"] = await preview(store, period)
        except HTTPException as exc:
            if exc.status_code != status.HTTP_422_UNPROCESSABLE_CONTENT:
                raise
            extra.setdefault("error", _message(exc))
            status_code = status_code if status_code != status.HTTP_200_OK else exc.status_code
    return console_page(
        request, "operateur_cycle.html", status_code, title="Lancer un cycle de facturation", **context, **extra
    )


@router.get("", response_class=HTMLResponse)
async def cycle_form(
    request: Request, session: SessionDep, settings: SettingsDep, store: BillingStoreDep, periode: str = ""
) -> Response:
    """Choose a period; its preview (families, totals per tranche) comes with the start form."""
    signed_in(request, *BILLING_ROLES)
    return await _form(request, session, settings, store, periode)


@router.post("")
async def cycle_start(
    request: Request, session: SessionDep, temporal: TemporalDep, settings: SettingsDep, store: BillingStoreDep,
    csrf: str = Form(""), periode: str = Form(""), motif: str = Form(""),
) -> Response:  # fmt: skip
    """Start the period's cycle with the operator's reason; a refusal is shown on the page, in French."""
    principal = signed_in(request, *BILLING_ROLES)
    check_csrf(request, csrf)
    try:
        reason = required_motif(motif)
        period = ended_period(periode, settings, field="periode")
        handle = await start_period_cycle(temporal, settings, period, batch_size=500)
    except HTTPException as exc:
        if exc.status_code not in (status.HTTP_409_CONFLICT, status.HTTP_422_UNPROCESSABLE_CONTENT):
            raise
        return await _form(
            request, session, settings, store, periode, exc.status_code, error=_message(exc), motif=motif.strip()
        )
    audit(session, principal, "cycle.start", handle.id, reason)
    log.info("operator.cycle_started", workflow_id=handle.id)
    return done_redirect(f"/operateur?cycle={period.key}", "lancement")  # the console shows this one
