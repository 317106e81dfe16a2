"""Rules an inspection applies to its inspector's and reviewers' requests: submission, acceptance, extension, score."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

from domain.audit import messages
from domain.audit.campaign import check_deadline_extension, paris_date, paris_day_end
from domain.audit.checklist import FieldError, validate_submission
from domain.audit.evidence import evidence_prefix, foreign_keys
from domain.audit.referentiel import AuditMode, Referentiel
from domain.audit.scoring import SiteScore
from domain.calendar import format_date_fr

RESULTS_MARGIN = timedelta(hours=1)
"""After the review deadline, time left for the inspections' last reports before the campaign's results."""


def parse_day(text: str) -> date | None:
    """An ISO day (``2027-01-25``), or None when the text is not one."""
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def submission_errors(
    referentiel: Referentiel,
    site_type: str,
    mode: AuditMode | str,
    answers: Mapping[str, object],
    evidence: Mapping[str, Sequence[str]],
    visit_date: str,
    window: tuple[date, date],
    keys: tuple[int, int],
    now: datetime,
) -> list[FieldError]:
    """Every problem of a submission: the checklist, the visit date (a day, not in the future), the evidence keys.

    `window` is the campaign's (start, end), `keys` the (campaign id, task id) the evidence keys must start with.
    """
    window_start, window_end = window
    day = parse_day(visit_date)
    errors = validate_submission(
        referentiel, site_type, mode, answers, evidence, day or window_start, window_start, window_end
    )
    if day is None:
        errors.append(FieldError("visit_date", messages.INVALID_VISIT_DATE))
    errors.extend(foreign_keys(evidence_prefix(*keys), evidence))
    if day is not None and day > paris_date(now):
        errors.append(FieldError("visit_date", messages.visit_in_future(format_date_fr(day))))
    return errors


def acceptance_deadline(now: datetime, accept_hours: int, window_close: datetime) -> datetime:
    """Until when the assigned inspector may accept: `accept_hours` from now, never after the window closes."""
    return min(now + timedelta(hours=accept_hours), window_close)


def extended_due_date(current_due: date, new_due_on: str, window_start: date, window_end: date) -> date:
    """The new due date of a deadline extension; ValueError (French message) unless later and inside the window."""
    new_due = parse_day(new_due_on)
    if new_due is None:
        raise ValueError(messages.INVALID_DATE)
    check_deadline_extension(current_due, new_due, window_start, window_end)
    return new_due


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
