"""French texts of an inspection and of a campaign's changes: refusals the API shows, reasons the history keeps."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from domain.audit.checklist import FieldError
from domain.audit.criteria import AuditMode
from domain.calendar import PARIS, format_date_fr

# --- why a task changed hands or closed (recorded with the assignment, shown to the quality team) ---------
DECLINED_BY_INSPECTOR = "Refusée par l'inspecteur"
INSPECTOR_UNAVAILABLE = "Inspecteur indisponible"
WINDOW_CLOSED_UNASSIGNED = "Fenêtre de campagne close sans inspecteur"
WINDOW_CLOSED_BEFORE_ACCEPTANCE = "Fenêtre de campagne close avant l'acceptation"
NO_ANSWER_IN_TIME = "Pas de réponse dans le délai d'acceptation"
WINDOW_CLOSED_UNSUBMITTED = "Fenêtre close sans soumission du résultat"
NOT_REVIEWED_IN_TIME = "Résultat non revu avant la date limite de revue"
WINDOW_CLOSED = "Fenêtre de campagne close"
REASON_MAX_LENGTH = 300

# --- refusals of an inspector's or a reviewer's action ---------------------------------------------------
TASK_LOADING = "Tâche en cours d'ouverture, réessayez dans un instant"
TASK_NOT_FOUND = "Tâche introuvable"
TASK_HANDING_OVER = "Cette tâche est en cours de réattribution"
NO_ACTION_POSSIBLE = "Aucune action possible : la tâche n'a pas d'inspecteur ou est close"
TASK_CLOSED_OR_LOADING = "Tâche close ou en cours d'ouverture"
ALREADY_ASSIGNED = "Cette tâche a déjà un inspecteur"
ALREADY_SUBMITTED = "Le résultat est déjà soumis : rien à prolonger"
COMMENT_REQUIRED = "Un commentaire est obligatoire pour renvoyer le résultat à l'inspecteur"
COMMENT_REQUIRED_FIELD = "Commentaire obligatoire"
OPERATION_UNAVAILABLE = "Opération impossible pour le moment"

# --- refusals of a campaign change -------------------------------------------------------------------------
CAMPAIGN_NOT_RUNNING = "La campagne n'est pas en cours : modification impossible"
INVALID_MODES = "Modes d'audit invalides : visit, call ou email, sans doublon"
INVALID_MODES_FIELD = "Modes d'audit invalides"
SITE_WITHDRAWN = "Site retiré de la campagne"


def visit_in_future(visit_date_fr: str) -> str:
    """The visit date lies after today (Paris)."""
    return f"La date de l'audit ({visit_date_fr}) ne peut pas être dans le futur."


def submission_refused(errors: Sequence[FieldError]) -> str:
    """One line for a refused submission: the first problem, and how many more (each field says its own)."""
    more = f" (et {len(errors) - 1} autre(s) point(s) à corriger)" if len(errors) > 1 else ""
    return f"Soumission refusée : {errors[0].message}{more}"


def tasks_planned(count: int) -> str:
    """Acknowledgement of a site added to a running campaign."""
    return f"{count} tâche(s) planifiée(s) pour ce site"


def tasks_to_reassign(count: int) -> str:
    """Acknowledgement of an inspector declared unavailable."""
    return f"{count} tâche(s) à réattribuer"


def time_fr(ts: datetime) -> str:
    """An instant as Paris reads it: ``25/01/2027 à 14:30``."""
    local = ts.astimezone(PARIS)
    return f"{format_date_fr(local.date())} à {local:%H:%M}"


def task_notice_context(
    task_id: int,
    site: tuple[str, str, int],
    mode: str,
    window: tuple[date, date],
    due_on: date,
) -> dict[str, str]:
    """What every message about a task prints: the site (name, type label, arrondissement), mode and dates."""
    site_name, site_type_label, arrondissement = site
    return {
        "task_id": str(task_id),
        "site_name": site_name,
        "site_type": site_type_label,
        "arrondissement": str(arrondissement),
        "mode": AuditMode(mode).label,
        "window_start": format_date_fr(window[0]),
        "window_end": format_date_fr(window[1]),
        "due_on": format_date_fr(due_on),
    }
