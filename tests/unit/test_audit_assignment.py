"""Assignment of audit tasks to inspectors."""

import random
import time
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.audit.assignment import (
    ALL_ARRONDISSEMENTS,
    AssignmentPlan,
    AuditTask,
    Inspector,
    SiteToAudit,
    UnassignedReason,
    plan_assignments,
    reassign,
)
from domain.audit.criteria import AuditMode

VISIT, CALL, EMAIL = AuditMode.VISIT, AuditMode.CALL, AuditMode.EMAIL


def site(ref: str, arr: int, *modes: AuditMode) -> SiteToAudit:
    return SiteToAudit(ref, arr, "mairie", modes or (VISIT,))


def check_invariants(
    plan: AssignmentPlan,
    sites: list[SiteToAudit],
    inspectors: list[Inspector],
    existing: dict[str, int] | None = None,
) -> None:
    by_ref = {i.ref: i for i in inspectors}
    existing = existing or {}
    tasks = [t for s in sites for t in s.tasks()]
    placed = [a.task for a in plan.assignments] + [u.task for u in plan.unassigned]
    assert Counter(placed) == Counter(tasks)  # every task exactly once
    for a in plan.assignments:
        inspector = by_ref[a.inspector_ref]
        assert a.task.site_ref not in inspector.conflicts
        if a.task.mode is VISIT:
            assert a.task.arrondissement in inspector.arrondissements
    final = {i.ref: existing.get(i.ref, 0) + plan.load().get(i.ref, 0) for i in inspectors}
    for inspector in inspectors:
        assert plan.load().get(inspector.ref, 0) <= max(0, inspector.capacity - existing.get(inspector.ref, 0))
    # greedy maximality: nobody left with spare capacity could have taken an unassigned task
    for u in plan.unassigned:
        assert not [i for i in inspectors if i.can_audit(u.task) and final[i.ref] < i.capacity]


def test_equal_capacities_are_balanced_within_one() -> None:
    sites = [site(f"S{i:03d}", 1 + i % 20, VISIT, CALL) for i in range(97)]
    inspectors = [Inspector(f"I{j}", 40, ALL_ARRONDISSEMENTS) for j in range(7)]
    plan = plan_assignments(sites, inspectors)
    check_invariants(plan, sites, inspectors)
    loads = plan.load()
    assert plan.unassigned == ()
    assert sum(loads.values()) == 194
    assert max(loads.values()) - min(loads.values()) <= 1


def test_unequal_capacities_get_proportional_loads() -> None:
    sites = [site(f"S{i:02d}", 5) for i in range(15)]
    inspectors = [Inspector("small", 10, frozenset({5})), Inspector("big", 20, frozenset({5}))]
    plan = plan_assignments(sites, inspectors)
    assert plan.load() == {"small": 5, "big": 10}


def test_capacity_and_existing_load_are_never_exceeded() -> None:
    sites = [site(f"S{i}", 3) for i in range(10)]
    inspectors = [Inspector("a", 5, frozenset({3})), Inspector("b", 5, frozenset({3}))]
    plan = plan_assignments(sites, inspectors, existing_load={"a": 4})
    assert plan.load() == {"a": 1, "b": 5}
    assert len(plan.unassigned) == 4
    assert {u.reason for u in plan.unassigned} == {UnassignedReason.CAPACITY_EXHAUSTED}
    check_invariants(plan, sites, inspectors, {"a": 4})


def test_conflicts_and_area_are_respected_but_remote_modes_go_anywhere() -> None:
    sites = [site("mairie-12", 12, VISIT, CALL), site("piscine-5", 5, VISIT, EMAIL)]
    inspectors = [
        Inspector("east", 10, frozenset({11, 12, 20}), conflicts=frozenset({"mairie-12"})),
        Inspector("west", 10, frozenset({15, 16})),
        Inspector("south", 10, frozenset({5, 13, 14})),
    ]
    plan = plan_assignments(sites, inspectors)
    got = {(a.task.site_ref, a.task.mode): a.inspector_ref for a in plan.assignments}
    assert ("mairie-12", VISIT) not in got  # the only inspector covering the 12th has a conflict
    assert got[("mairie-12", CALL)] in {"west", "south"}
    assert got[("piscine-5", VISIT)] == "south"
    assert got[("piscine-5", EMAIL)] in {"east", "west"}  # south already has one: balance
    assert [(u.task.ref, u.reason) for u in plan.unassigned] == [("mairie-12-visit", UnassignedReason.ALL_CONFLICTED)]
    check_invariants(plan, sites, inspectors)


def test_uncovered_area_is_reported() -> None:
    plan = plan_assignments([site("parc-19", 19)], [Inspector("a", 3, frozenset({1}))])
    assert [u.reason for u in plan.unassigned] == [UnassignedReason.NO_INSPECTOR_FOR_AREA]
    assert UnassignedReason.NO_INSPECTOR_FOR_AREA.label == "Aucun inspecteur ne couvre cet arrondissement"


def test_most_constrained_tasks_are_served_first() -> None:
    # in name order the 1st-arrondissement sites would fill "wide" and starve the 2nd arrondissement
    sites = [site("a-site", 1), site("b-site", 1), site("z-site", 2)]
    inspectors = [Inspector("wide", 2, frozenset({1, 2})), Inspector("narrow", 1, frozenset({1}))]
    plan = plan_assignments(sites, inspectors)
    assert plan.unassigned == ()
    assert {a.task.site_ref: a.inspector_ref for a in plan.assignments}["z-site"] == "wide"


def test_visits_in_the_same_arrondissement_are_grouped_on_ties() -> None:
    # s3 ties on load between a and b: b already visits the 7th, so b gets it (not a, first by ref)
    sites = [site("s1", 4), site("s2", 7), site("s3", 7), site("s4", 4)]
    inspectors = [Inspector("a", 4, frozenset({4, 7})), Inspector("b", 4, frozenset({4, 7}))]
    plan = plan_assignments(sites, inspectors)
    got = {a.task.site_ref: a.inspector_ref for a in plan.assignments}
    assert got == {"s1": "a", "s2": "b", "s3": "b", "s4": "a"}


def test_plan_is_deterministic_whatever_the_input_order() -> None:
    rng = random.Random(7)
    sites = [site(f"S{i:03d}", rng.randint(1, 20), VISIT, CALL) for i in range(200)]
    inspectors = [Inspector(f"I{j:02d}", rng.randint(5, 15), frozenset(rng.sample(range(1, 21), 6))) for j in range(20)]
    plan = plan_assignments(sites, inspectors)
    for _ in range(3):
        rng.shuffle(sites)
        rng.shuffle(inspectors)
        assert plan_assignments(sites, inspectors) == plan


def test_two_thousand_sites_and_fifty_inspectors_plan_quickly() -> None:
    rng = random.Random(2027)
    sites = [site(f"S{i:04d}", rng.randint(1, 20), VISIT, CALL, EMAIL) for i in range(2000)]
    inspectors = [
        Inspector(
            f"I{j:02d}",
            130,
            frozenset(rng.sample(range(1, 21), 5)),
            frozenset(f"S{rng.randrange(2000):04d}" for _ in range(20)),
        )
        for j in range(50)
    ]
    started = time.perf_counter()
    plan = plan_assignments(sites, inspectors)
    elapsed = time.perf_counter() - started
    assert elapsed < 10, elapsed  # ~0.5 s here; a cubic algorithm would take minutes
    assert len(plan.assignments) == 6000
    check_invariants(plan, sites, inspectors)


def test_reassign_picks_the_least_loaded_eligible_inspector() -> None:
    task = AuditTask("bib-18", 18, "bibliotheque", VISIT)
    inspectors = [
        Inspector("a", 10, frozenset({18})),
        Inspector("b", 10, frozenset({18})),
        Inspector("c", 10, frozenset({17})),  # wrong area
        Inspector("d", 10, frozenset({18}), conflicts=frozenset({"bib-18"})),
        Inspector("e", 2, frozenset({18})),
    ]
    load = {"a": 3, "b": 5, "c": 0, "d": 0, "e": 2}  # e is full
    assert reassign(task, inspectors, excluded=set(), load=load) == "a"
    assert reassign(task, inspectors, excluded={"a"}, load=load) == "b"
    assert reassign(task, inspectors, excluded={"a", "b"}, load=load) is None
    remote = AuditTask("bib-18", 18, "bibliotheque", CALL)
    assert reassign(remote, inspectors, excluded={"a", "b"}, load=load) == "c"


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[SiteToAudit], list[Inspector], dict[str, int]]:
    n_sites = draw(st.integers(0, 40))
    sites = [
        SiteToAudit(
            f"S{i}",
            draw(st.integers(1, 6)),
            "parc",
            tuple(draw(st.sets(st.sampled_from(list(AuditMode)), min_size=1))),
        )
        for i in range(n_sites)
    ]
    site_refs = [s.site_ref for s in sites] or ["S0"]
    inspectors = [
        Inspector(
            f"I{j}",
            draw(st.integers(0, 12)),
            frozenset(draw(st.sets(st.integers(1, 6), max_size=4))),
            frozenset(draw(st.sets(st.sampled_from(site_refs), max_size=3))),
        )
        for j in range(draw(st.integers(0, 8)))
    ]
    existing = {i.ref: draw(st.integers(0, 3)) for i in inspectors}
    return sites, inspectors, existing


@settings(max_examples=150, deadline=None)
@given(instances())
def test_plan_invariants_hold_on_random_instances(
    instance: tuple[list[SiteToAudit], list[Inspector], dict[str, int]],
) -> None:
    sites, inspectors, existing = instance
    plan = plan_assignments(sites, inspectors, existing)
    check_invariants(plan, sites, inspectors, existing)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 12), st.integers(1, 10), st.integers(1, 60))
def test_equal_capacities_balance_property(n_inspectors: int, capacity: int, n_sites: int) -> None:
    sites = [site(f"S{i:02d}", 1 + i % 20, CALL) for i in range(n_sites)]
    inspectors = [Inspector(f"I{j:02d}", capacity, ALL_ARRONDISSEMENTS) for j in range(n_inspectors)]
    plan = plan_assignments(sites, inspectors)
    loads = [plan.load().get(i.ref, 0) for i in inspectors]
    assert max(loads) - min(loads) <= 1
    assert sum(loads) == min(n_sites, n_inspectors * capacity)
