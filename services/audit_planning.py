"""QualiParis planning: a campaign's tasks and who holds them (first assignments, sites added or withdrawn,
unavailable inspectors, reassignment and manual assignment). The assignment rules are `domain.audit.assignment`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import func
from sqlmodel import Session, col, select

from contracts.audit_campaign import PlanResult, SiteWithdrawalResult
from contracts.audit_inspection import ReassignOutcome
from contracts.audit_names import AuditError
from domain.audit.assignment import AuditTask as DomainTask
from domain.audit.assignment import Inspector, SiteToAudit, plan_assignments, reassign
from domain.audit.campaign import inspection_due_date, review_deadline
from domain.audit.criteria import AuditMode
from domain.audit.task_states import TaskState
from services.audit import (
    AuditRefusal,
    campaign_or_refuse,
    referentiel_or_refuse,
    task_or_refuse,
    unavailable_inspectors,
)
from ville.models.audit import (
    AuditAssignment,
    AuditCampaign,
    AuditCampaignSite,
    AuditInspector,
    AuditSite,
    AuditTask,
    CampaignStatus,
    InspectorUnavailability,
)
from ville.models.common import utcnow

log = structlog.get_logger(__name__)

# States in which a task counts in its inspector's load (domain.audit.assignment: "open tasks").
LOAD_STATES = (TaskState.ASSIGNED, TaskState.ACCEPTED, TaskState.SUBMITTED, TaskState.SENT_BACK)


def domain_inspector(i: AuditInspector) -> Inspector:
    """An inspector row as the assignment rules see it."""
    return Inspector(
        ref=i.ref,
        capacity=i.capacity,
        arrondissements=frozenset(int(a) for a in i.arrondissements),
        conflicts=frozenset(str(r) for r in i.conflict_site_refs),
    )


def close_assignment(s: Session, task_id: int, round_: int, outcome: str, reason: str) -> None:
    """End assignment `round_` of a task with its outcome (once: a closed assignment keeps its first outcome)."""
    assignment = s.exec(
        select(AuditAssignment).where(AuditAssignment.task_id == task_id, AuditAssignment.round == round_)
    ).first()
    if assignment is not None and assignment.outcome is None:
        assignment.outcome = TaskState(outcome).value
        assignment.reason = reason[:300] or None
        assignment.ended_at = utcnow()
        s.add(assignment)


@dataclass
class AuditPlanning:
    """Tasks and assignments of the campaigns, over one session."""

    s: Session

    def _team(self, body_id: int, unavailable: set[int]) -> tuple[list[Inspector], dict[str, int]]:
        """Active, available inspectors of the body as domain objects, and their ids by ref."""
        rows = self.s.exec(
            select(AuditInspector).where(AuditInspector.body_id == body_id, col(AuditInspector.active))
        ).all()
        available = [i for i in rows if i.id not in unavailable]
        return [domain_inspector(i) for i in available], {i.ref: int(i.id) for i in available if i.id is not None}

    def _load(self, campaign_id: int, exclude_task: int | None = None) -> dict[int, int]:
        """Open tasks per inspector id in the campaign."""
        query = (
            select(AuditTask.inspector_id, func.count())
            .where(
                AuditTask.campaign_id == campaign_id,
                col(AuditTask.state).in_([st.value for st in LOAD_STATES]),
                col(AuditTask.inspector_id).is_not(None),
            )
            .group_by(col(AuditTask.inspector_id))
        )
        if exclude_task is not None:
            query = query.where(AuditTask.id != exclude_task)
        return {int(i): int(n) for i, n in self.s.exec(query).all() if i is not None}

    def _new_tasks(
        self, campaign: AuditCampaign, sites: Sequence[tuple[AuditSite, list[str]]], existing_load: dict[int, int]
    ) -> list[AuditTask]:
        """Plan and insert the tasks of `sites` (assignment from the domain); returns them with ids."""
        s = self.s
        assert campaign.id is not None
        inspectors, id_by_ref = self._team(campaign.body_id, unavailable_inspectors(s, campaign.id))
        ref_by_id = {v: k for k, v in id_by_ref.items()}
        plan = plan_assignments(
            [
                SiteToAudit(site.ref, site.arrondissement, site.site_type, tuple(AuditMode(m) for m in modes))
                for site, modes in sites
            ],
            inspectors,
            existing_load={ref_by_id[i]: n for i, n in existing_load.items() if i in ref_by_id},
        )
        site_by_ref = {site.ref: site for site, _ in sites}
        due_on = inspection_due_date(campaign.window_start, campaign.window_end)
        tasks: list[AuditTask] = []
        for a in plan.assignments:
            tasks.append(
                AuditTask(
                    campaign_id=campaign.id,
                    site_id=site_by_ref[a.task.site_ref].id,
                    mode=a.task.mode.value,
                    state=TaskState.ASSIGNED.value,
                    inspector_id=id_by_ref[a.inspector_ref],
                    due_on=due_on,
                )
            )
        for u in plan.unassigned:
            tasks.append(
                AuditTask(
                    campaign_id=campaign.id,
                    site_id=site_by_ref[u.task.site_ref].id,
                    mode=u.task.mode.value,
                    state=None,
                    inspector_id=None,
                    due_on=due_on,
                    unassigned_reason=u.reason.value,
                )
            )
        s.add_all(tasks)
        s.flush()
        s.add_all(
            AuditAssignment(task_id=t.id, round=1, inspector_id=t.inspector_id)
            for t in tasks
            if t.inspector_id is not None
        )
        return tasks

    def plan_campaign(self, campaign_id: int) -> PlanResult:
        """Create the campaign's tasks and first assignments (once; later calls return the same tasks)."""
        s = self.s
        campaign = campaign_or_refuse(s, campaign_id, lock=True)
        deadline = review_deadline(campaign.window_end)
        tasks = list(s.exec(select(AuditTask).where(AuditTask.campaign_id == campaign_id)).all())
        created = not tasks
        if created:
            rows = s.exec(
                select(AuditCampaignSite, AuditSite)
                .join(AuditSite, col(AuditSite.id) == AuditCampaignSite.site_id)
                .where(AuditCampaignSite.campaign_id == campaign_id, col(AuditCampaignSite.withdrawn).is_(False))
            ).all()
            tasks = self._new_tasks(campaign, [(site, list(cs.modes)) for cs, site in rows], {})
            campaign.status = CampaignStatus.running.value
            campaign.started_at = utcnow()
            s.add(campaign)
            s.commit()
        result = PlanResult(
            task_ids=sorted(int(t.id) for t in tasks if t.id is not None),
            unassigned=sum(1 for t in tasks if t.inspector_id is None),
            window_start=campaign.window_start,
            window_end=campaign.window_end,
            review_deadline=deadline,
        )
        if created:
            log.info("audit.planned", campaign_id=campaign_id, tasks=len(result.task_ids), unassigned=result.unassigned)
        return result

    def add_site(self, campaign_id: int, site_id: int, modes_in: Sequence[str]) -> list[int]:
        """Add a site to a running campaign and plan its tasks; the ids of its tasks (idempotent)."""
        s = self.s
        campaign = campaign_or_refuse(s, campaign_id, lock=True)
        site = s.get(AuditSite, site_id)
        if site is None or not site.active:
            raise AuditRefusal(AuditError.INVALID_CHANGE, f"Site {site_id} inconnu ou inactif")
        referentiel = referentiel_or_refuse(s, campaign.referentiel_version)
        if site.site_type not in referentiel.site_type_codes:
            raise AuditRefusal(
                AuditError.INVALID_CHANGE,
                f"Le référentiel {referentiel.version} ne couvre pas le type de site {site.site_type}",
            )
        modes = [AuditMode(m).value for m in modes_in]
        link = s.exec(
            select(AuditCampaignSite).where(
                AuditCampaignSite.campaign_id == campaign_id, AuditCampaignSite.site_id == site_id
            )
        ).first()
        if link is not None:
            if link.withdrawn:
                raise AuditRefusal(AuditError.INVALID_CHANGE, f"Le site {site.ref} a été retiré de cette campagne")
            ids = s.exec(
                select(AuditTask.id).where(AuditTask.campaign_id == campaign_id, AuditTask.site_id == site_id)
            ).all()
            return sorted(int(i) for i in ids if i is not None)
        s.add(AuditCampaignSite(campaign_id=campaign_id, site_id=site_id, modes=modes, added_late=True))
        tasks = self._new_tasks(campaign, [(site, modes)], self._load(campaign_id))
        s.commit()
        return sorted(int(t.id) for t in tasks if t.id is not None)

    def withdraw_site(self, campaign_id: int, site_id: int, reason: str) -> SiteWithdrawalResult:
        """Withdraw a site: tasks nobody opened yet are closed here, the others are returned."""
        s = self.s
        link = s.exec(
            select(AuditCampaignSite).where(
                AuditCampaignSite.campaign_id == campaign_id, AuditCampaignSite.site_id == site_id
            )
        ).first()
        if link is None:
            raise AuditRefusal(AuditError.INVALID_CHANGE, f"Le site {site_id} n'est pas dans cette campagne")
        link.withdrawn = True
        link.withdrawn_reason = reason[:300]
        s.add(link)
        open_ids, closed_ids = [], []
        tasks = s.exec(
            select(AuditTask).where(AuditTask.campaign_id == campaign_id, AuditTask.site_id == site_id)
        ).all()
        for t in tasks:
            assert t.id is not None
            if t.state in (TaskState.APPROVED, TaskState.WITHDRAWN):
                continue
            if t.opened_at is None:
                t.state = TaskState.WITHDRAWN.value
                t.withdrawn_reason = reason[:300]
                t.updated_at = utcnow()
                s.add(t)
                closed_ids.append(t.id)
            else:
                open_ids.append(t.id)
        s.commit()
        return SiteWithdrawalResult(open_task_ids=sorted(open_ids), closed_task_ids=sorted(closed_ids))

    def mark_unavailable(self, campaign_id: int, inspector_id: int, reason: str) -> list[int]:
        """Record the unavailability; the inspector's tasks still in progress (to hand over)."""
        s = self.s
        campaign_or_refuse(s, campaign_id)
        if s.get(AuditInspector, inspector_id) is None:
            raise AuditRefusal(AuditError.INVALID_CHANGE, f"Inspecteur {inspector_id} inconnu")
        known = s.exec(
            select(InspectorUnavailability).where(
                InspectorUnavailability.campaign_id == campaign_id,
                InspectorUnavailability.inspector_id == inspector_id,
            )
        ).first()
        if known is None:
            s.add(InspectorUnavailability(campaign_id=campaign_id, inspector_id=inspector_id, reason=reason[:300]))
        ids = s.exec(
            select(AuditTask.id).where(
                AuditTask.campaign_id == campaign_id,
                AuditTask.inspector_id == inspector_id,
                col(AuditTask.state).in_([st.value for st in LOAD_STATES]),
            )
        ).all()
        s.commit()
        return sorted(int(i) for i in ids if i is not None)

    def reassign(self, task_id: int, round_: int, outcome: str, reason: str) -> ReassignOutcome:
        """End assignment `round_` and give the task to the next eligible inspector (domain rule), if any."""
        s = self.s
        task = task_or_refuse(s, task_id)
        campaign = campaign_or_refuse(s, task.campaign_id, lock=True)
        if task.round > round_:  # already done by an earlier attempt
            return ReassignOutcome(task.inspector_id, task.round)
        assert task.id is not None and campaign.id is not None
        close_assignment(s, task.id, round_, outcome, reason)
        site = s.get(AuditSite, task.site_id)
        assert site is not None
        inspectors, id_by_ref = self._team(campaign.body_id, unavailable_inspectors(s, campaign.id))
        ref_by_id = {v: k for k, v in id_by_ref.items()}
        tried = s.exec(select(AuditAssignment.inspector_id).where(AuditAssignment.task_id == task.id)).all()
        load = self._load(campaign.id, exclude_task=task.id)
        chosen = reassign(
            DomainTask(site.ref, site.arrondissement, site.site_type, AuditMode(task.mode)),
            inspectors,
            excluded={ref_by_id[i] for i in tried if i in ref_by_id},
            load={ref_by_id[i]: n for i, n in load.items() if i in ref_by_id},
        )
        new_round = round_ + 1
        task.round = new_round
        task.updated_at = utcnow()
        if chosen is None:
            task.state, task.inspector_id, task.unassigned_reason = None, None, "no_eligible_inspector"
        else:
            task.state, task.inspector_id = TaskState.ASSIGNED.value, id_by_ref[chosen]
            s.add(AuditAssignment(task_id=task.id, round=new_round, inspector_id=id_by_ref[chosen]))
        s.add(task)
        s.commit()
        log.info("audit.reassigned", task_id=task.id, round=new_round, found=chosen is not None)
        return ReassignOutcome(task.inspector_id, new_round)

    def assign(self, task_id: int, round_: int, inspector_id: int, by_user_id: int | None) -> ReassignOutcome:
        """Assignment by the quality team of a task without inspector (area, conflicts, capacity checked)."""
        s = self.s
        task = task_or_refuse(s, task_id)
        campaign = campaign_or_refuse(s, task.campaign_id, lock=True)
        done = s.exec(
            select(AuditAssignment).where(AuditAssignment.task_id == task_id, AuditAssignment.round == round_)
        ).first()
        if done is not None and done.inspector_id == inspector_id:
            return ReassignOutcome(done.inspector_id, done.round)
        if task.inspector_id is not None or done is not None:
            raise AuditRefusal(AuditError.INVALID_ASSIGNMENT, "Cette tâche a déjà un inspecteur")
        inspector = s.get(AuditInspector, inspector_id)
        assert campaign.id is not None
        if inspector is None or not inspector.active or inspector.body_id != campaign.body_id:
            raise AuditRefusal(AuditError.INVALID_ASSIGNMENT, "Inspecteur inconnu pour l'organisme de cette campagne")
        if inspector.id in unavailable_inspectors(s, campaign.id):
            raise AuditRefusal(AuditError.INVALID_ASSIGNMENT, "Cet inspecteur est indisponible pour cette campagne")
        site = s.get(AuditSite, task.site_id)
        assert site is not None
        domain_task = DomainTask(site.ref, site.arrondissement, site.site_type, AuditMode(task.mode))
        if not domain_inspector(inspector).can_audit(domain_task):
            raise AuditRefusal(
                AuditError.INVALID_ASSIGNMENT,
                "Cet inspecteur ne couvre pas cet arrondissement ou a un conflit d'intérêts avec ce site",
            )
        if self._load(campaign.id).get(inspector_id, 0) >= inspector.capacity:
            raise AuditRefusal(AuditError.INVALID_ASSIGNMENT, "La capacité de cet inspecteur est atteinte")
        s.add(AuditAssignment(task_id=task_id, round=round_, inspector_id=inspector_id, assigned_by_user_id=by_user_id))
        task.state, task.inspector_id, task.round = TaskState.ASSIGNED.value, inspector_id, round_
        task.updated_at = utcnow()
        s.add(task)
        s.commit()
        return ReassignOutcome(inspector_id, round_)
