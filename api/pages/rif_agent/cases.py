"""RIF agent pages: the relay's cases, one case with its referrals, refer the family to a service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import SessionDep, TemporalDep
from api.pages.common import check_csrf, page_router, refusal_message, signed_in
from api.rendering import render
from api.routes.rif_agent.cases import get_case, list_cases
from api.routes.rif_agent.directory import directory_search
from api.routes.rif_agent.referrals import refer
from api.schemas.referrals import ReferIn, ServiceOut
from api.security import Principal
from contracts.referrals import ActorKind
from domain.referral_cases import CaseOutcome, CaseStatus, ContactChannel, NeedCategory
from domain.referrals import RefusalReason
from services.referrals import ReferralService
from ville.models.people import Role

router = page_router("/rif")


NEEDS = [(n.value, n.label) for n in NeedCategory]


ACTOR_FR = {
    ActorKind.AGENT.value: "Agent du relais",
    ActorKind.PARTNER.value: "Partenaire",
    ActorKind.PARTNER_LINK.value: "Partenaire (lien sécurisé)",
    ActorKind.COORDINATOR.value: "Coordination",
    ActorKind.SYSTEM.value: "Automatique",
}


OUTCOME_FR = {o.value: o.label for o in CaseOutcome}


# history entries carry codes only (a refusal reason, an outcome, a channel): shown by their French label
INFO_FR = {
    **{c.value: c.label for c in ContactChannel},
    **OUTCOME_FR,
    **{r.value: r.label for r in RefusalReason},
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def _search(
    request: Request, session: SessionDep, principal: Principal, need: str, arrondissement: str
) -> tuple[list[ServiceOut] | None, dict[str, str]]:
    """Directory hits for the search form (None before a search), and the form's field errors."""
    if "besoin" not in request.query_params:
        return None, {}
    errors: dict[str, str] = {}
    if need not in {n.value for n in NeedCategory}:
        errors["besoin"] = "Choisissez un besoin."
    arr: int | None = None
    if arrondissement:
        if arrondissement.isdigit() and 1 <= int(arrondissement) <= 20:
            arr = int(arrondissement)
        else:
            errors["arrondissement"] = "Choisissez un arrondissement entre 1 et 20."
    if errors:
        return None, errors
    return directory_search(principal, ReferralService(session), NeedCategory(need), arr, None, False), {}


@router.get("/dossiers", response_class=HTMLResponse)
def cases_page(request: Request, session: SessionDep) -> Response:
    """The relay's cases, newest first."""
    principal = signed_in(request, Role.rif_agent, Role.coordinator)
    return render(
        request,
        "agent_dossiers.html",
        title="Dossiers du relais",
        cases=list_cases(principal, ReferralService(session), None),
        can_open=principal.role is not Role.coordinator,
    )


def _case_page(request: Request, session: SessionDep, ref: str, status_code: int = 200, **extra: Any) -> Response:
    principal = signed_in(request, Role.rif_agent, Role.coordinator)
    case = get_case(ref, principal, ReferralService(session))
    default_need = case.needs[0].value if case.needs else ""
    need = request.query_params.get("besoin", default_need)
    arrondissement = request.query_params.get("arrondissement", str(case.arrondissement or ""))
    hits, search_errors = _search(request, session, principal, need, arrondissement)
    referred = {r.service.id for r in case.referral_list if r.status.is_active}
    return render(
        request,
        "agent_dossier.html",
        status_code,
        title=f"Dossier {case.ref}",
        case=case,
        needs=NEEDS,
        need_fr={n.value: n.label for n in NeedCategory},
        channel_fr={c.value: c.label for c in ContactChannel},
        actor_fr=ACTOR_FR,
        outcome_fr=OUTCOME_FR,
        info_fr=INFO_FR,
        arrondissements=range(1, 21),
        search={"besoin": need, "arrondissement": arrondissement},
        search_errors=search_errors,
        hits=hits,
        referred=referred,
        can_refer=principal.role is not Role.coordinator and case.status is CaseStatus.OPEN,
        opened=request.query_params.get("ouvert") == "1",
        sent=request.query_params.get("oriente"),
        now=utc_now(),
        **extra,
    )


@router.get("/dossiers/{ref}", response_class=HTMLResponse)
def case_page(request: Request, ref: str, session: SessionDep) -> Response:
    """A case: the family, its referrals with their SLA and answers, the search for services, the history."""
    return _case_page(request, session, ref)


@router.post("/dossiers/{ref}/orientations", response_class=HTMLResponse)
async def refer_submit(request: Request, ref: str, session: SessionDep, temporal: TemporalDep) -> Response:
    """Refer the family to the chosen service (its workflow sends the partner a secure link)."""
    principal = signed_in(request, Role.rif_agent)
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    service_id, need = str(form.get("service_id", "")), str(form.get("need", ""))
    if not service_id.isdigit() or need not in {n.value for n in NeedCategory}:
        return _case_page(request, session, ref, 422, refer_error="Choisissez un service et un besoin.")
    try:
        body = ReferIn(service_id=int(service_id), need=NeedCategory(need))
        result = await refer(ref, body, principal, ReferralService(session), temporal)
    except HTTPException as exc:
        if exc.status_code not in (409, 422):
            raise
        return _case_page(request, session, ref, exc.status_code, refer_error=refusal_message(exc))
    return RedirectResponse(f"/rif/dossiers/{ref}?oriente={result.ref}", status.HTTP_303_SEE_OTHER)
