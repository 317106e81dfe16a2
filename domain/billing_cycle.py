"""Starting a billing cycle: when a start is refused, and what the operator is told (pure, French)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain import labels


class StartRefusal(StrEnum):
    """Why a start is refused (the error code of the 409)."""

    RUNNING = "cycle_running"
    PAUSED = "cycle_paused"
    BATCH_SIZE = "cycle_batch_size_differs"
    ALREADY_BILLED = "cycle_already_billed"


@dataclass(frozen=True, slots=True)
class ExistingCycle:
    """What Temporal says of the period's cycle when a start collides with it."""

    running: bool  # False: the last run completed (failed, cancelled or terminated runs never collide)
    phase: str = "planning"
    paused: bool = False
    batch_size: int | None = None  # None: the running cycle did not answer its query


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused start: code and French message."""

    code: StartRefusal
    message_fr: str


def start_refusal(period_label: str, existing: ExistingCycle, batch_size: int) -> Refusal:
    """Why a start that collides with the period's cycle is refused (a completed cycle is never rerun)."""
    if not existing.running:
        return Refusal(
            StartRefusal.ALREADY_BILLED,
            f"La période {period_label} est déjà facturée : son cycle de facturation est terminé.",
        )
    phase = labels.cycle_phase(existing.phase)
    if existing.batch_size is not None and existing.batch_size != batch_size:
        return Refusal(
            StartRefusal.BATCH_SIZE,
            f"Le cycle de {period_label} est déjà en cours avec des lots de {existing.batch_size} familles, "
            f"et non {batch_size} : la taille des lots d'un cycle lancé ne change pas.",
        )
    if existing.paused:
        return Refusal(
            StartRefusal.PAUSED,
            f"Le cycle de {period_label} est déjà lancé et en pause (phase : {phase}) : reprenez-le plutôt.",
        )
    return Refusal(StartRefusal.RUNNING, f"Le cycle de {period_label} est déjà en cours (phase : {phase}).")
