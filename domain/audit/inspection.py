"""Rules an inspection applies to its inspector's and reviewers' requests: submission, acceptance, extension, score."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum

from domain.audit import messages
from domain.audit.campaign import check_deadline_extension, paris_date, paris_day_end
from domain.audit.checklist import FieldError, validate_submission
from domain.audit.criteria import AuditMode
from domain.audit.evidence import evidence_prefix, foreign_keys
from domain.audit.referentiel import Referentiel
from domain.audit.scoring import SiteScore
from domain.audit.task_states import IllegalTransition, TaskEvent, TaskState, transition
from domain.calendar import format_date_fr

RESULTS_MARGIN = timedelta(hours=1)
"""After the review deadline, time left for the inspections' last reports before the campaign's results."""


def submission_errors(
    referentiel: Referentiel,
    site_type: str,
    mode: AuditMode | str,
    answers: Mapping[str, object],
    evidence: Mapping[str, Sequence[str]],
    visit_date: date,
    window: tuple[date, date],
    keys: tuple[int, int],
    now: datetime,
) -> list[FieldError]:
    """Every problem of a submission: the checklist, the visit date (a day, not in the future), the evidence keys.

    `window` is the campaign's (start, end), `keys` the (campaign id, task id) the evidence keys must start with.
    """
    window_start, window_end = window
    errors = validate_submission(referentiel, site_type, mode, answers, evidence, visit_date, window_start, window_end)
    errors.extend(foreign_keys(evidence_prefix(*keys), evidence))
    if visit_date > paris_date(now):
        errors.append(FieldError("visit_date", messages.visit_in_future(format_date_fr(visit_date))))
    return errors


def acceptance_deadline(now: datetime, accept_hours: int, window_close: datetime) -> datetime:
    """Until when the assigned inspector may accept: `accept_hours` from now, never after the window closes."""
    return min(now + timedelta(hours=accept_hours), window_close)


def extended_due_date(current_due: date, new_due_on: date, window_start: date, window_end: date) -> date:
    """The new due date of a deadline extension; ValueError (French message) unless later and inside the window."""
    check_deadline_extension(current_due, new_due_on, window_start, window_end)
    return new_due_on


def score_permille(score: SiteScore) -> int:
    """A site's score as stored and compared with the label threshold: per mille, from the percent shown (0.1)."""
    return int(score.percent * 10)


def modes_valid(modes: Sequence[str]) -> bool:
    """True for a non-empty list of known audit modes without duplicates."""
    known = {mode.value for mode in AuditMode}
    return bool(modes) and all(m in known for m in modes) and len(set(modes)) == len(modes)


def results_due_at(review_deadline: date) -> datetime:
    """When a campaign stops waiting for reviews and computes its results (Paris end of day, plus a margin)."""
    return paris_day_end(review_deadline) + RESULTS_MARGIN


# --- which actions a task accepts --------------------------------------------------------------------------

RELEASABLE = frozenset({TaskState.ASSIGNED, TaskState.ACCEPTED, TaskState.SENT_BACK})
"""States in which an unavailable inspector's task is handed over at once (a submitted one waits for review)."""


class Refusal(StrEnum):
    """How a refused action is answered (the workflow maps each to its API error type)."""

    ILLEGAL = "illegal"  # not in this state
    NOT_YOURS = "not_yours"  # the inspector does not hold the task
    ASSIGNED = "assigned"  # the task already has an inspector
    INVALID = "invalid"  # a value of the request is wrong (`field` names it)


class ActionRefused(ValueError):
    """An action the task refuses, with the French message shown to the person who asked."""

    def __init__(self, message: str, kind: Refusal, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.kind, self.field = message, kind, field


def check_task_action(state: TaskState | None, closed: bool, event: TaskEvent) -> None:
    """Refuse an event the task's state does not allow (a task without inspector, or closed, allows none)."""
    if state is None or closed:
        raise ActionRefused(messages.NO_ACTION_POSSIBLE, Refusal.ILLEGAL)
    try:
        transition(state, event)
    except IllegalTransition as err:
        raise ActionRefused(str(err), Refusal.ILLEGAL) from None


def check_inspector_action(
    inspector_id: int, holder: int | None, closed: bool, releasing: bool, state: TaskState | None, event: TaskEvent
) -> None:
    """Refuse an inspector's action on a task he does not hold, that is changing hands, or in the wrong state."""
    if holder is None or inspector_id != holder or closed:
        raise ActionRefused(messages.TASK_NOT_FOUND, Refusal.NOT_YOURS)
    if releasing:
        raise ActionRefused(messages.TASK_HANDING_OVER, Refusal.ILLEGAL)
    check_task_action(state, closed, event)


def check_assignable(closing: bool, state: TaskState | None, holder: int | None) -> None:
    """Refuse a manual assignment of a task closed (or closing) or already held."""
    if closing:
        raise ActionRefused(messages.TASK_CLOSED_OR_LOADING, Refusal.ILLEGAL)
    if state is not None or holder is not None:
        raise ActionRefused(messages.ALREADY_ASSIGNED, Refusal.ASSIGNED)


def check_extension(
    closing: bool, state: TaskState | None, current_due: date, new_due_on: date, window: tuple[date, date]
) -> date:
    """The new due date of a deadline extension, or ActionRefused: closed task, result submitted, wrong date."""
    if closing:
        raise ActionRefused(messages.TASK_CLOSED_OR_LOADING, Refusal.ILLEGAL)
    if state is TaskState.SUBMITTED:
        raise ActionRefused(messages.ALREADY_SUBMITTED, Refusal.ILLEGAL)
    try:
        return extended_due_date(current_due, new_due_on, *window)
    except ValueError as err:
        raise ActionRefused(str(err), Refusal.INVALID, "new_due_on") from None
