"""Assignment of audit tasks to inspectors: capacity, area and conflicts of interest respected."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from domain.audit.criteria import AuditMode

ALL_ARRONDISSEMENTS: frozenset[int] = frozenset(range(1, 21))
"""Area of an inspector who can visit anywhere in Paris."""

_MODE_RANK = {AuditMode.VISIT: 0, AuditMode.CALL: 1, AuditMode.EMAIL: 2}


@dataclass(frozen=True)
class Inspector:
    """An inspector of the accredited body.

    `capacity` counts tasks for the campaign; `arrondissements` is where they can make visits
    (calls and e-mails are remote, so any inspector can take them); `conflicts` lists sites they
    must not audit (e.g. a relative works there).
    """

    ref: str
    capacity: int
    arrondissements: frozenset[int]
    conflicts: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.capacity < 0:
            raise ValueError(f"inspector {self.ref}: capacity must be >= 0")

    def can_audit(self, task: AuditTask) -> bool:
        """Area and conflict rules (capacity aside)."""
        if task.site_ref in self.conflicts:
            return False
        return task.mode is not AuditMode.VISIT or task.arrondissement in self.arrondissements


@dataclass(frozen=True)
class SiteToAudit:
    """A site of the campaign and the modes it is audited in."""

    site_ref: str
    arrondissement: int
    site_type: str
    modes: tuple[AuditMode, ...]

    def __post_init__(self) -> None:
        if self.arrondissement not in ALL_ARRONDISSEMENTS:
            raise ValueError(f"site {self.site_ref}: arrondissement must be 1..20")
        object.__setattr__(self, "modes", tuple(AuditMode(m) for m in self.modes))
        if not self.modes or len(set(self.modes)) != len(self.modes):
            raise ValueError(f"site {self.site_ref}: modes must be non-empty and distinct")

    def tasks(self) -> tuple[AuditTask, ...]:
        """One task per audit mode."""
        return tuple(AuditTask(self.site_ref, self.arrondissement, self.site_type, m) for m in self.modes)


@dataclass(frozen=True)
class AuditTask:
    """One audit of one site in one mode; the unit assigned to an inspector."""

    site_ref: str
    arrondissement: int
    site_type: str
    mode: AuditMode

    @property
    def ref(self) -> str:
        """Business key of the task (used to build the inspection workflow id)."""
        return f"{self.site_ref}-{self.mode.value}"


@dataclass(frozen=True)
class Assignment:
    """A task given to an inspector."""

    task: AuditTask
    inspector_ref: str


class UnassignedReason(StrEnum):
    """Why a task could not be assigned."""

    NO_INSPECTOR_FOR_AREA = "no_inspector_for_area"
    ALL_CONFLICTED = "all_conflicted"
    CAPACITY_EXHAUSTED = "capacity_exhausted"

    @property
    def label(self) -> str:
        """French label."""
        return _REASON_LABELS[self]


_REASON_LABELS = {
    UnassignedReason.NO_INSPECTOR_FOR_AREA: "Aucun inspecteur ne couvre cet arrondissement",
    UnassignedReason.ALL_CONFLICTED: "Tous les inspecteurs du secteur ont un conflit d'intérêts",
    UnassignedReason.CAPACITY_EXHAUSTED: "Capacité des inspecteurs éligibles épuisée",
}


@dataclass(frozen=True)
class Unassigned:
    """A task left without inspector, with the reason."""

    task: AuditTask
    reason: UnassignedReason


@dataclass(frozen=True)
class AssignmentPlan:
    """Result of planning, both lists sorted by site then mode."""

    assignments: tuple[Assignment, ...]
    unassigned: tuple[Unassigned, ...]

    def load(self) -> dict[str, int]:
        """Tasks assigned per inspector by this plan."""
        counts: dict[str, int] = {}
        for a in self.assignments:
            counts[a.inspector_ref] = counts.get(a.inspector_ref, 0) + 1
        return counts


def _rank(inspector: Inspector, load: int, same_area: int) -> tuple[Fraction, int, int, str]:
    # lowest utilisation after taking the task keeps workloads proportional to capacity (equal
    # capacities -> loads within one); then an inspector already visiting that arrondissement
    # (shorter rounds), then the narrowest area (generalists stay free for others), then the ref
    return (Fraction(load + 1, inspector.capacity), -same_area, len(inspector.arrondissements), inspector.ref)


def _task_sort_key(task: AuditTask) -> tuple[str, int]:
    return (task.site_ref, _MODE_RANK[task.mode])


def plan_assignments(
    sites: Iterable[SiteToAudit],
    inspectors: Iterable[Inspector],
    existing_load: Mapping[str, int] | None = None,
) -> AssignmentPlan:
    """Assign every task it can, greedily and deterministically (independent of input order).

    Tasks with the fewest eligible inspectors go first; each goes to the eligible inspector with
    the lowest utilisation after assignment. Capacity (minus `existing_load`), area for visits and
    conflicts are never broken. Cost is O(tasks × inspectors).
    """
    team = sorted(inspectors, key=lambda i: i.ref)
    if len({i.ref for i in team}) != len(team):
        raise ValueError("duplicate inspector ref")
    site_list = list(sites)
    if len({s.site_ref for s in site_list}) != len(site_list):
        raise ValueError("duplicate site ref")
    existing = existing_load or {}
    load = {i.ref: existing.get(i.ref, 0) for i in team}
    by_area: dict[int, list[Inspector]] = {}
    for inspector in team:
        for arr in inspector.arrondissements:
            by_area.setdefault(arr, []).append(inspector)

    def area_candidates(task: AuditTask) -> list[Inspector]:
        return by_area.get(task.arrondissement, []) if task.mode is AuditMode.VISIT else team

    tasks = [t for s in site_list for t in s.tasks()]
    eligible = {t: sum(1 for i in area_candidates(t) if t.site_ref not in i.conflicts) for t in tasks}
    order = sorted(tasks, key=lambda t: (eligible[t], *_task_sort_key(t)))

    area_load: dict[tuple[str, int], int] = {}
    assignments: list[Assignment] = []
    unassigned: list[Unassigned] = []
    for task in order:
        is_visit = task.mode is AuditMode.VISIT
        best: Inspector | None = None
        best_rank: tuple[Fraction, int, int, str] | None = None
        for inspector in area_candidates(task):
            if task.site_ref in inspector.conflicts or load[inspector.ref] >= inspector.capacity:
                continue
            same_area = area_load.get((inspector.ref, task.arrondissement), 0) if is_visit else 0
            rank = _rank(inspector, load[inspector.ref], same_area)
            if best_rank is None or rank < best_rank:
                best, best_rank = inspector, rank
        if best is None:
            if not area_candidates(task):
                reason = UnassignedReason.NO_INSPECTOR_FOR_AREA
            elif eligible[task] == 0:
                reason = UnassignedReason.ALL_CONFLICTED
            else:
                reason = UnassignedReason.CAPACITY_EXHAUSTED
            unassigned.append(Unassigned(task, reason))
            continue
        load[best.ref] += 1
        if is_visit:
            key = (best.ref, task.arrondissement)
            area_load[key] = area_load.get(key, 0) + 1
        assignments.append(Assignment(task, best.ref))
    assignments.sort(key=lambda a: _task_sort_key(a.task))
    unassigned.sort(key=lambda u: _task_sort_key(u.task))
    return AssignmentPlan(tuple(assignments), tuple(unassigned))


def reassign(
    task: AuditTask,
    inspectors: Iterable[Inspector],
    excluded: Collection[str],
    load: Mapping[str, int],
) -> str | None:
    """Ref of the next eligible inspector for a declined or expired task, or None.

    `excluded` holds inspectors who already declined or let the task expire; `load` is the
    current number of open tasks per inspector.
    """
    best: tuple[Fraction, int, int, str] | None = None
    for inspector in inspectors:
        current = load.get(inspector.ref, 0)
        if inspector.ref in excluded or current >= inspector.capacity or not inspector.can_audit(task):
            continue
        rank = _rank(inspector, current, 0)
        if best is None or rank < best:
            best = rank
    return None if best is None else best[3]
