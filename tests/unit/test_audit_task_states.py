"""Inspection task state machine."""

import pytest

from domain.audit.task_states import (
    OPEN_STATES,
    TERMINAL_STATES,
    IllegalTransition,
    TaskEvent,
    TaskState,
    allowed_events,
    transition,
)

S, E = TaskState, TaskEvent

# written out independently of the implementation's table
EXPECTED = {
    (S.ASSIGNED, E.ACCEPT): S.ACCEPTED,
    (S.ASSIGNED, E.DECLINE): S.DECLINED,
    (S.ASSIGNED, E.EXPIRE): S.EXPIRED,
    (S.ASSIGNED, E.WITHDRAW): S.WITHDRAWN,
    (S.ACCEPTED, E.SUBMIT): S.SUBMITTED,
    (S.ACCEPTED, E.WITHDRAW): S.WITHDRAWN,
    (S.SUBMITTED, E.APPROVE): S.APPROVED,
    (S.SUBMITTED, E.SEND_BACK): S.SENT_BACK,
    (S.SUBMITTED, E.WITHDRAW): S.WITHDRAWN,
    (S.SENT_BACK, E.SUBMIT): S.SUBMITTED,
    (S.SENT_BACK, E.WITHDRAW): S.WITHDRAWN,
}


@pytest.mark.parametrize("state", list(TaskState))
@pytest.mark.parametrize("event", list(TaskEvent))
def test_full_transition_matrix(state: TaskState, event: TaskEvent) -> None:
    expected = EXPECTED.get((state, event))
    if expected is None:
        with pytest.raises(IllegalTransition) as exc:
            transition(state, event)
        assert (exc.value.state, exc.value.event) == (state, event)
    else:
        assert transition(state, event) is expected


def test_review_loop_until_approval() -> None:
    state = S.ASSIGNED
    for event in [E.ACCEPT, E.SUBMIT, E.SEND_BACK, E.SUBMIT, E.SEND_BACK, E.SUBMIT, E.APPROVE]:
        state = transition(state, event)
    assert state is S.APPROVED
    assert not state.is_open


def test_open_and_terminal_states() -> None:
    assert {S.ASSIGNED, S.ACCEPTED, S.SUBMITTED, S.SENT_BACK} == OPEN_STATES
    assert {S.DECLINED, S.EXPIRED, S.APPROVED, S.WITHDRAWN} == TERMINAL_STATES
    assert allowed_events(S.APPROVED) == ()
    assert allowed_events(S.SUBMITTED) == (E.APPROVE, E.SEND_BACK, E.WITHDRAW)


def test_illegal_transition_message_is_clear_and_french() -> None:
    with pytest.raises(IllegalTransition) as exc:
        transition(S.ASSIGNED, E.APPROVE)
    message = str(exc.value)
    assert message.startswith("Impossible de valider une tâche attribuée")
    assert "assigned --approve--> ?" in message
    assert "Actions possibles : accepter, refuser, faire expirer, retirer." in message
    with pytest.raises(IllegalTransition, match="aucune \\(état final\\)"):
        transition(S.WITHDRAWN, E.WITHDRAW)


def test_string_values_are_accepted() -> None:
    assert transition("accepted", "submit") is S.SUBMITTED  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        transition(S.ASSIGNED, "teleport")  # type: ignore[arg-type]
