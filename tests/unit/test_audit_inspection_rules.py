"""Rules an inspection applies (domain.audit.inspection) and the texts it answers with (domain.audit.messages)."""

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from domain.audit import messages
from domain.audit.checklist import FieldError
from domain.audit.criteria import AnswerType
from domain.audit.evidence import evidence_prefix
from domain.audit.inspection import (
    RELEASABLE,
    ActionRefused,
    Refusal,
    acceptance_deadline,
    check_assignable,
    check_extension,
    check_inspector_action,
    check_task_action,
    extended_due_date,
    modes_valid,
    results_due_at,
    score_permille,
    submission_errors,
)
from domain.audit.referentiel import bundled_referentiel
from domain.audit.scoring import score_site
from domain.audit.task_states import TaskEvent, TaskState
from domain.calendar import PARIS

REF = bundled_referentiel()
WINDOW = (date(2027, 1, 4), date(2027, 1, 29))
KEYS = (7, 42)
NOW = datetime(2027, 1, 15, 10, 0, tzinfo=UTC)


def answers(passing: bool = True) -> dict[str, object]:
    out: dict[str, object] = {}
    for c in REF.criteria_for("piscine", "visit"):
        if c.answer_type is AnswerType.YES_NO:
            out[c.code] = passing
        elif c.answer_type is AnswerType.SCALE:
            out[c.code] = c.scale_max if passing else 0
        else:
            out[c.code] = Decimal(0)
    return out


def errors(visit_date: date, evidence: dict[str, list[str]] | None = None, now: datetime = NOW) -> list[FieldError]:
    return submission_errors(REF, "piscine", "visit", answers(), evidence or {}, visit_date, WINDOW, KEYS, now)


def test_a_complete_submission_with_a_past_visit_date_is_valid() -> None:
    assert errors(date(2027, 1, 12)) == []


def test_a_visit_date_before_the_campaign_window_is_refused() -> None:
    assert [e.field for e in errors(date(2027, 1, 3))] == ["visit_date"]


def test_a_visit_date_after_today_in_paris_is_refused() -> None:
    # 23:30 UTC on the 15th is already the 16th in Paris: the 16th is today there, the 17th is the future
    late_evening = datetime(2027, 1, 15, 23, 30, tzinfo=UTC)
    assert errors(date(2027, 1, 16), now=late_evening) == []
    assert errors(date(2027, 1, 17), now=late_evening) == [
        FieldError("visit_date", "La date de l'audit (17/01/2027) ne peut pas être dans le futur.")
    ]


def test_evidence_keys_outside_the_task_prefix_are_refused() -> None:
    own = f"{evidence_prefix(*KEYS)}E01.1-abc.jpg"
    assert errors(date(2027, 1, 12), {"E01.1": [own]}) == []
    problems = errors(date(2027, 1, 12), {"E01.1": ["audit/evidence/7/41/E01.1-abc.jpg"]})
    assert [e.field for e in problems] == ["evidence.E01.1"]


def test_the_refusal_names_the_first_problem_and_counts_the_others() -> None:
    one = [FieldError("visit_date", "Date invalide.")]
    assert messages.submission_refused(one) == "Soumission refusée : Date invalide."
    three = [*one, FieldError("a", "x"), FieldError("b", "y")]
    assert (
        messages.submission_refused(three) == "Soumission refusée : Date invalide. (et 2 autre(s) point(s) à corriger)"
    )


def test_acceptance_deadline_is_the_delay_but_never_after_the_window() -> None:
    close = datetime(2027, 1, 16, 23, 0, tzinfo=UTC)
    assert acceptance_deadline(NOW, 48, close) == datetime(2027, 1, 16, 23, 0, tzinfo=UTC)
    assert acceptance_deadline(NOW, 24, close) == datetime(2027, 1, 16, 10, 0, tzinfo=UTC)


def test_a_deadline_extension_keeps_the_due_date_later_and_inside_the_window() -> None:
    assert extended_due_date(date(2027, 1, 20), date(2027, 1, 25), *WINDOW) == date(2027, 1, 25)
    with pytest.raises(ValueError, match="postérieure"):
        extended_due_date(date(2027, 1, 20), date(2027, 1, 20), *WINDOW)
    with pytest.raises(ValueError, match="fenêtre"):
        extended_due_date(date(2027, 1, 20), date(2027, 1, 30), *WINDOW)


def test_score_per_mille_follows_the_percent_shown() -> None:
    full = score_site(REF, "piscine", "visit", answers(True))
    none = score_site(REF, "piscine", "visit", answers(False))
    assert score_permille(full) == 1000
    assert score_permille(none) == int(none.percent * 10) < 1000


def test_modes_are_known_and_without_duplicates() -> None:
    assert modes_valid(["visit", "call"])
    assert not modes_valid([])
    assert not modes_valid(["visit", "visit"])
    assert not modes_valid(["visit", "fax"])


def test_results_wait_one_hour_after_the_review_deadline_ends_in_paris() -> None:
    assert results_due_at(date(2027, 2, 12)) == datetime(2027, 2, 13, 1, 0, tzinfo=PARIS)


def test_time_fr_reads_paris_time() -> None:
    assert messages.time_fr(datetime(2027, 7, 1, 12, 5, tzinfo=UTC)) == "01/07/2027 à 14:05"


def test_notice_context_prints_the_site_mode_and_dates_the_french_way() -> None:
    ctx = messages.task_notice_context(42, ("Piscine Pontoise", "Piscine", 5), "call", WINDOW, date(2027, 1, 26))
    assert ctx == {
        "task_id": "42",
        "site_name": "Piscine Pontoise",
        "site_type": "Piscine",
        "arrondissement": "5",
        "mode": "appel mystère",
        "window_start": "04/01/2027",
        "window_end": "29/01/2027",
        "due_on": "26/01/2027",
    }


def test_campaign_acknowledgements() -> None:
    assert messages.tasks_planned(3) == "3 tâche(s) planifiée(s) pour ce site"
    assert messages.tasks_to_reassign(0) == "0 tâche(s) à réattribuer"


def refusal(call: Callable[[], object]) -> tuple[Refusal, str, str | None]:
    with pytest.raises(ActionRefused) as caught:
        call()
    return caught.value.kind, caught.value.message, caught.value.field


def test_an_inspector_acts_only_on_the_task_he_holds_in_a_state_that_allows_it() -> None:
    ok = check_inspector_action(5, 5, False, False, TaskState.ASSIGNED, TaskEvent.ACCEPT)
    assert ok is None
    assert refusal(lambda: check_inspector_action(6, 5, False, False, TaskState.ASSIGNED, TaskEvent.ACCEPT)) == (
        Refusal.NOT_YOURS,
        messages.TASK_NOT_FOUND,
        None,
    )
    assert (
        refusal(lambda: check_inspector_action(5, None, False, False, None, TaskEvent.ACCEPT))[0] is Refusal.NOT_YOURS
    )
    assert refusal(lambda: check_inspector_action(5, 5, True, False, TaskState.ASSIGNED, TaskEvent.ACCEPT))[0] is (
        Refusal.NOT_YOURS
    )
    assert refusal(lambda: check_inspector_action(5, 5, False, True, TaskState.ACCEPTED, TaskEvent.SUBMIT))[:2] == (
        Refusal.ILLEGAL,
        messages.TASK_HANDING_OVER,
    )
    kind, message, _ = refusal(lambda: check_inspector_action(5, 5, False, False, TaskState.ASSIGNED, TaskEvent.SUBMIT))
    assert kind is Refusal.ILLEGAL and message.startswith("Impossible")


def test_a_review_needs_a_held_open_task() -> None:
    check_task_action(TaskState.SUBMITTED, False, TaskEvent.APPROVE)
    assert refusal(lambda: check_task_action(None, False, TaskEvent.APPROVE))[:2] == (
        Refusal.ILLEGAL,
        messages.NO_ACTION_POSSIBLE,
    )
    assert refusal(lambda: check_task_action(TaskState.SUBMITTED, True, TaskEvent.APPROVE))[0] is Refusal.ILLEGAL


def test_only_a_task_without_inspector_and_still_open_is_assigned_by_hand() -> None:
    check_assignable(False, None, None)
    assert refusal(lambda: check_assignable(True, None, None))[:2] == (Refusal.ILLEGAL, messages.TASK_CLOSED_OR_LOADING)
    assert refusal(lambda: check_assignable(False, TaskState.ASSIGNED, 3))[:2] == (
        Refusal.ASSIGNED,
        messages.ALREADY_ASSIGNED,
    )


def test_an_extension_names_the_field_when_the_date_is_wrong() -> None:
    due = date(2027, 1, 20)
    assert check_extension(False, TaskState.ACCEPTED, due, date(2027, 1, 25), WINDOW) == date(2027, 1, 25)
    assert (
        refusal(lambda: check_extension(True, TaskState.ACCEPTED, due, date(2027, 1, 25), WINDOW))[0] is Refusal.ILLEGAL
    )
    assert refusal(lambda: check_extension(False, TaskState.SUBMITTED, due, date(2027, 1, 25), WINDOW))[:2] == (
        Refusal.ILLEGAL,
        messages.ALREADY_SUBMITTED,
    )
    kind, _, field = refusal(lambda: check_extension(False, TaskState.ACCEPTED, due, date(2027, 2, 25), WINDOW))
    assert (kind, field) == (Refusal.INVALID, "new_due_on")


def test_only_running_assignments_are_released_at_once() -> None:
    assert TaskState.SUBMITTED not in RELEASABLE
    assert {TaskState.ASSIGNED, TaskState.ACCEPTED, TaskState.SENT_BACK} == RELEASABLE
