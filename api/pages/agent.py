"""RIF pages for relay agents: open a case, find partner services by need and arrondissement, refer, follow."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.form_dates import FormDateError, parse_form_date
from api.pages.common import check_csrf, page_router, render, signed_in
from api.rendering import NAV_BY_ROLE
from api.routes.referrals import (
    CaseCreate,
    ConsentIn,
    ReferIn,
    ServiceOut,
    directory_search,
    get_case,
    list_cases,
    open_case,
    refer,
)
from api.security import Principal
from contracts.referrals import ActorKind
from domain.referrals import (
    PARIS,
    CaseOutcome,
    CaseStatus,
    ConsentScope,
    ContactChannel,
    NeedCategory,
    RefusalReason,
)
from ville.models.people import Role

router = page_router("/rif")

# The shared navigation lives in common.py; each audience's module adds its own entries.
AGENT_NAV = [("/rif/dossiers", "Dossiers du relais"), ("/rif/dossiers/nouveau", "Ouvrir un dossier")]
NAV_BY_ROLE.setdefault(Role.rif_agent, AGENT_NAV)
NAV_BY_ROLE.setdefault(Role.coordinator, [("/rif/dossiers", "Dossiers du relais")])

NEEDS = [(n.value, n.label) for n in NeedCategory]
CHANNELS = [(c.value, c.label) for c in ContactChannel]
CONSENTS = [
    (
        ConsentScope.SHARE_WITH_PARTNERS.value,
        "Partager sa demande avec les services partenaires (obligatoire)",
    ),
    (ConsentScope.SHARE_CONTACT.value, "Transmettre ses coordonnées (courriel, téléphone) aux partenaires"),
    (ConsentScope.FOLLOW_UP.value, "Être recontactée par le relais après une acceptation"),
    (ConsentScope.STATUS_LINK.value, "Recevoir un lien pour suivre ses orientations"),
]
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
# Pydantic's messages are English: the pages say in French what each field expects.
FIELD_MESSAGES = {
    "contact_name": "Indiquez le nom de la personne (200 caractères au plus).",
    "contact_email": "Adresse e-mail invalide, par exemple nom@exemple.fr.",
    "contact_phone": "Numéro de téléphone invalide (ex. 06 12 34 56 78).",
    "preferred_channel": "Choisissez comment contacter la famille.",
    "arrondissement": "Choisissez un arrondissement entre 1 et 20.",
    "needs": "Cochez au moins un besoin.",
    "situation": "La situation ne doit pas dépasser 4 000 caractères.",
    "partner_summary": "Le résumé pour les partenaires ne doit pas dépasser 2 000 caractères.",
    "consent": "Indiquez l'accord de la famille.",
    "consent_date": "Date du consentement invalide (jj/mm/aaaa), elle ne peut pas être dans le futur.",
}


def _now() -> datetime:
    return datetime.now(UTC)


def _message(exc: HTTPException) -> str:
    detail = exc.detail
    return str(detail["message"]) if isinstance(detail, dict) else str(detail)


def _field_of(exc: HTTPException) -> str | None:
    """The form field a route's field error names (API names mapped to the form's)."""
    detail = exc.detail
    if not isinstance(detail, dict) or not detail.get("fields"):
        return None
    field = str(detail["fields"][0]["field"])
    return {"consent.given_at": "consent_date", "relay": None}.get(field, field)


def _consent_at(day: date, now: datetime) -> datetime:
    """Consent recorded on `day` (Paris): noon that day, or now when that is still to come."""
    return min(datetime.combine(day, time(12), PARIS), now)


def _form_page(request: Request, status_code: int = 200, **context: Any) -> HTMLResponse:
    return render(
        request,
        "agent_nouveau_dossier.html",
        status_code,
        title="Ouvrir un dossier",
        needs=NEEDS,
        channels=CHANNELS,
        consents=CONSENTS,
        arrondissements=range(1, 21),
        errors=context.pop("errors", {}),
        values=context.pop("values", {}),
        **context,
    )


@router.get("/dossiers", response_class=HTMLResponse)
def cases_page(request: Request, session: SessionDep) -> Response:
    """The relay's cases, newest first."""
    principal = signed_in(request, Role.rif_agent, Role.coordinator)
    return render(
        request,
        "agent_dossiers.html",
        title="Dossiers du relais",
        cases=list_cases(principal, session, None),
        can_open=principal.role is not Role.coordinator,
    )


@router.get("/dossiers/nouveau", response_class=HTMLResponse)
def new_case_page(request: Request) -> Response:
    """The form recording a family's situation, needs and consent."""
    signed_in(request, Role.rif_agent)
    today = _now().astimezone(PARIS).date().isoformat()
    return _form_page(request, values={"consent_date": today, "preferred_channel": "email", "consent": []})


@router.post("/dossiers/nouveau", response_class=HTMLResponse)
async def new_case_submit(
    request: Request, session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> Response:
    """Open the case (its workflow starts at once), then show it; errors are shown next to each field."""
    principal = signed_in(request, Role.rif_agent)
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    text = {k: str(form.get(k, "")).strip() for k in (
        "contact_name", "contact_email", "contact_phone", "preferred_channel", "arrondissement", "situation",
        "partner_summary", "consent_date")}  # fmt: skip
    needs = [str(v) for v in form.getlist("needs")]
    consent = [str(v) for v in form.getlist("consent")]
    values: dict[str, Any] = {**text, "needs": needs, "consent": consent}
    errors: dict[str, str] = {}
    try:
        consent_day = parse_form_date(text["consent_date"], FIELD_MESSAGES["consent_date"])
    except FormDateError as err:
        errors["consent_date"] = str(err)
        consent_day = _now().astimezone(PARIS).date()
    if not consent:
        errors["consent"] = "Sans l'accord de la famille pour partager sa demande, aucune orientation possible."
    try:
        body = CaseCreate(
            contact_name=text["contact_name"],
            contact_email=text["contact_email"] or None,
            contact_phone=text["contact_phone"] or None,
            preferred_channel=text["preferred_channel"],
            arrondissement=text["arrondissement"] or None,
            needs=needs,
            situation=text["situation"],
            partner_summary=text["partner_summary"],
            consent=ConsentIn(given_at=_consent_at(consent_day, _now()), scope=consent),
        )
    except ValidationError as err:
        for e in err.errors():
            field = str(e["loc"][0]) if e["loc"] else "consent"
            errors.setdefault(field, FIELD_MESSAGES.get(field, "Valeur invalide."))
        return _form_page(request, 422, values=values, errors=errors)
    if errors:
        return _form_page(request, 422, values=values, errors=errors)
    try:
        case = await open_case(body, principal, session, temporal, settings)
    except HTTPException as exc:
        named = _field_of(exc)
        if exc.status_code != 422 or named is None:
            return _form_page(request, exc.status_code, values=values, errors={}, general_error=_message(exc))
        return _form_page(request, 422, values=values, errors={named: _message(exc)})
    return RedirectResponse(f"/rif/dossiers/{case.ref}?ouvert=1", status.HTTP_303_SEE_OTHER)


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
    return directory_search(principal, session, NeedCategory(need), arr, None, False), {}


def _case_page(request: Request, session: SessionDep, ref: str, status_code: int = 200, **extra: Any) -> Response:
    principal = signed_in(request, Role.rif_agent, Role.coordinator)
    case = get_case(ref, principal, session)
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
        now=_now(),
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
        result = await refer(
            ref, ReferIn(service_id=int(service_id), need=NeedCategory(need)), principal, session, temporal
        )
    except HTTPException as exc:
        if exc.status_code not in (409, 422):
            raise
        return _case_page(request, session, ref, exc.status_code, refer_error=_message(exc))
    return RedirectResponse(f"/rif/dossiers/{ref}?oriente={result.ref}", status.HTTP_303_SEE_OTHER)
