"""RIF agent pages: open a case (the family's situation, needs and consent)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.form_dates import FormDateError, parse_form_date
from api.pages.common import check_csrf, page_router, refusal_message, signed_in
from api.pages.rif_agent.cases import NEEDS, utc_now
from api.rendering import render
from api.routes.rif_agent.cases import open_case
from api.schemas.referrals import CaseCreate, ConsentIn
from domain.calendar import PARIS
from domain.referral_cases import ConsentScope, ContactChannel
from services.referrals import ReferralService
from ville.models.people import Role

router = page_router("/rif")


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


@router.get("/dossiers/nouveau", response_class=HTMLResponse)
def new_case_page(request: Request) -> Response:
    """The form recording a family's situation, needs and consent."""
    signed_in(request, Role.rif_agent)
    today = utc_now().astimezone(PARIS).date().isoformat()
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
        consent_day = utc_now().astimezone(PARIS).date()
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
            consent=ConsentIn(given_at=_consent_at(consent_day, utc_now()), scope=consent),
        )
    except ValidationError as err:
        for e in err.errors():
            field = str(e["loc"][0]) if e["loc"] else "consent"
            errors.setdefault(field, FIELD_MESSAGES.get(field, "Valeur invalide."))
        return _form_page(request, 422, values=values, errors=errors)
    if errors:
        return _form_page(request, 422, values=values, errors=errors)
    try:
        case = await open_case(body, principal, ReferralService(session), temporal, settings)
    except HTTPException as exc:
        named = _field_of(exc)
        if exc.status_code != 422 or named is None:
            return _form_page(request, exc.status_code, values=values, errors={}, general_error=refusal_message(exc))
        return _form_page(request, 422, values=values, errors={named: refusal_message(exc)})
    return RedirectResponse(f"/rif/dossiers/{case.ref}?ouvert=1", status.HTTP_303_SEE_OTHER)
