"""State machine of an inspection task."""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    """Where an inspection task stands."""

    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    SUBMITTED = "submitted"
    SENT_BACK = "sent_back"
    APPROVED = "approved"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        """French label."""
        return _STATE_LABELS[self]

    @property
    def is_open(self) -> bool:
        """True while the task can still move."""
        return self in OPEN_STATES


class TaskEvent(StrEnum):
    """What can happen to an inspection task."""

    ACCEPT = "accept"
    DECLINE = "decline"
    EXPIRE = "expire"
    SUBMIT = "submit"
    APPROVE = "approve"
    SEND_BACK = "send_back"
    WITHDRAW = "withdraw"

    @property
    def label(self) -> str:
        """French label (an infinitive, used in messages)."""
        return _EVENT_LABELS[self]


_STATE_LABELS = {
    TaskState.ASSIGNED: "attribuée",
    TaskState.ACCEPTED: "acceptée",
    TaskState.DECLINED: "refusée par l'inspecteur",
    TaskState.EXPIRED: "expirée",
    TaskState.SUBMITTED: "soumise",
    TaskState.SENT_BACK: "renvoyée pour correction",
    TaskState.APPROVED: "validée",
    TaskState.WITHDRAWN: "retirée",
}

_EVENT_LABELS = {
    TaskEvent.ACCEPT: "accepter",
    TaskEvent.DECLINE: "refuser",
    TaskEvent.EXPIRE: "faire expirer",
    TaskEvent.SUBMIT: "soumettre",
    TaskEvent.APPROVE: "valider",
    TaskEvent.SEND_BACK: "renvoyer pour correction",
    TaskEvent.WITHDRAW: "retirer",
}

_W = {TaskEvent.WITHDRAW: TaskState.WITHDRAWN}  # the quality team may withdraw any open task
_TRANSITIONS: dict[TaskState, dict[TaskEvent, TaskState]] = {
    TaskState.ASSIGNED: {
        TaskEvent.ACCEPT: TaskState.ACCEPTED,
        TaskEvent.DECLINE: TaskState.DECLINED,
        TaskEvent.EXPIRE: TaskState.EXPIRED,
        **_W,
    },
    TaskState.ACCEPTED: {TaskEvent.SUBMIT: TaskState.SUBMITTED, **_W},
    TaskState.SUBMITTED: {
        TaskEvent.APPROVE: TaskState.APPROVED,
        TaskEvent.SEND_BACK: TaskState.SENT_BACK,
        **_W,
    },
    TaskState.SENT_BACK: {TaskEvent.SUBMIT: TaskState.SUBMITTED, **_W},
}
OPEN_STATES: frozenset[TaskState] = frozenset(_TRANSITIONS)
"""States a task can still leave."""
TERMINAL_STATES: frozenset[TaskState] = frozenset(TaskState) - OPEN_STATES


def _de(verb: str) -> str:
    # French elision: « d'accepter », « de refuser »
    return f"d'{verb}" if verb[0] in "aeéiouyh" else f"de {verb}"


class IllegalTransition(ValueError):
    """The event is not allowed in the current state."""

    def __init__(self, state: TaskState, event: TaskEvent) -> None:
        self.state = state
        self.event = event
        allowed = ", ".join(e.label for e in allowed_events(state)) or "aucune (état final)"
        super().__init__(
            f"Impossible {_de(event.label)} une tâche {state.label} ({state.value} --{event.value}--> ?). "
            f"Actions possibles : {allowed}."
        )


def allowed_events(state: TaskState) -> tuple[TaskEvent, ...]:
    """Events accepted in a state, in declaration order."""
    moves = _TRANSITIONS.get(state, {})
    return tuple(e for e in TaskEvent if e in moves)


def transition(state: TaskState, event: TaskEvent) -> TaskState:
    """Next state, or IllegalTransition."""
    try:
        return _TRANSITIONS[TaskState(state)][TaskEvent(event)]
    except KeyError:
        raise IllegalTransition(TaskState(state), TaskEvent(event)) from None
