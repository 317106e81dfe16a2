"""QualiParis tasks: what an inspection loads and persists, and the tasks as inspectors and reviewers read them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from contracts.audit_inspection import DueDateRecord, ReviewRecord, SubmissionRecord, TaskContext, TaskStateRecord
from contracts.audit_names import AuditError
from domain.audit.campaign import review_deadline
from domain.audit.referentiel import Referentiel, load_referentiel
from domain.audit.task_states import TaskState
from services.audit import (
    AuditRefusal,
    campaign_or_refuse,
    load_referentiel_version,
    referentiel_document,
    task_or_refuse,
    unavailable_inspectors,
)
from services.audit_planning import close_assignment
from ville.models.audit import AuditAssignment, AuditCampaign, AuditSite, AuditTask
from ville.models.common import utcnow
from ville.models.people import Role, UserAccount


@dataclass(frozen=True)
class TaskCard:
    """A task with its site and campaign, and when its inspector must accept it by (while assigned)."""

    task: AuditTask
    site: AuditSite
    campaign: AuditCampaign
    accept_by: datetime | None


@dataclass
class AuditTasks:
    """The audit tasks, over one session."""

    s: Session

    # --- reads (API) -----------------------------------------------------------------------------

    def get(self, task_id: int) -> AuditTask | None:
        """A task, or None."""
        return self.s.get(AuditTask, task_id)

    def own(self, inspector_id: int | None, task_id: int) -> AuditTask | None:
        """The inspector's opened task, or None (a foreign task reads as a missing one)."""
        task = self.s.get(AuditTask, task_id)
        if task is None or inspector_id is None or task.inspector_id != inspector_id or task.opened_at is None:
            return None
        return task

    def opened_for(self, inspector_id: int) -> list[AuditTask]:
        """The inspector's opened tasks, soonest due first."""
        mine = (
            select(AuditTask)
            .where(AuditTask.inspector_id == inspector_id, col(AuditTask.opened_at).is_not(None))
            .order_by(col(AuditTask.due_on), col(AuditTask.id))
        )
        return list(self.s.exec(mine).all())

    def card(self, task: AuditTask) -> TaskCard:
        """The task with its site, campaign and acceptance deadline."""
        site = self.s.get(AuditSite, task.site_id)
        campaign = self.s.get(AuditCampaign, task.campaign_id)
        assert site is not None and campaign is not None and task.id is not None
        accept_by = None
        if task.state == TaskState.ASSIGNED:
            assignment = self.s.exec(
                select(AuditAssignment).where(AuditAssignment.task_id == task.id, AuditAssignment.round == task.round)
            ).first()
            if assignment is not None:
                accept_by = assignment.assigned_at + timedelta(hours=campaign.acceptance_hours)
        return TaskCard(task, site, campaign, accept_by)

    def referentiel_of(self, card: TaskCard) -> Referentiel | None:
        """The référentiel version the task's campaign uses."""
        return load_referentiel_version(self.s, card.campaign.referentiel_version)

    def site(self, task: AuditTask) -> AuditSite:
        """The task's site."""
        site = self.s.get(AuditSite, task.site_id)
        assert site is not None
        return site

    def assignments(self, task_id: int) -> Sequence[AuditAssignment]:
        """The task's assignments, first round first."""
        return self.s.exec(
            select(AuditAssignment).where(AuditAssignment.task_id == task_id).order_by(col(AuditAssignment.round))
        ).all()

    def latest_assigned_at(self, task_id: int) -> datetime | None:
        """When the task was last given to an inspector (its latest round), or None if never."""
        return self.s.exec(
            select(AuditAssignment.assigned_at)
            .where(AuditAssignment.task_id == task_id)
            .order_by(col(AuditAssignment.round).desc())
        ).first()

    def console_list(self, campaign_id: int | None, only: str) -> Sequence[tuple[AuditTask, AuditSite]]:
        """Tasks and sites by due date: `retard` late ones, `sans-inspecteur` opened without inspector, else all."""
        query = select(AuditTask, AuditSite).join(AuditSite, col(AuditSite.id) == AuditTask.site_id)
        if campaign_id is not None:
            query = query.where(AuditTask.campaign_id == campaign_id)
        if only == "retard":
            query = query.where(col(AuditTask.late).is_(True))
        elif only == "sans-inspecteur":
            query = query.where(col(AuditTask.state).is_(None), col(AuditTask.opened_at).is_not(None))
        return self.s.exec(query.order_by(col(AuditTask.due_on), col(AuditTask.id)).limit(300)).all()

    def review_queue(self, campaign_id: int | None) -> Sequence[tuple[AuditTask, AuditSite]]:
        """Submitted tasks waiting for review, with their site, oldest first."""
        query = (
            select(AuditTask, AuditSite)
            .join(AuditSite, col(AuditSite.id) == AuditTask.site_id)
            .where(AuditTask.state == TaskState.SUBMITTED.value)
            .order_by(col(AuditTask.submitted_at))
        )
        if campaign_id is not None:
            query = query.where(AuditTask.campaign_id == campaign_id)
        return self.s.exec(query).all()

    # --- writes (inspection activities) ----------------------------------------------------------

    def load_context(self, task_id: int) -> TaskContext:
        """What the inspection needs; marks the task opened (from now on its inspector sees it)."""
        s = self.s
        task = task_or_refuse(s, task_id)
        campaign = campaign_or_refuse(s, task.campaign_id)
        site = s.get(AuditSite, task.site_id)
        assert site is not None and campaign.id is not None
        doc = referentiel_document(s, campaign.referentiel_version)
        if doc is None:
            raise AuditRefusal(AuditError.NOT_FOUND, f"Référentiel {campaign.referentiel_version} introuvable")
        referentiel = load_referentiel(doc)
        labels = {st.code: st.label for st in referentiel.site_types}
        if task.opened_at is None:
            task.opened_at = utcnow()
            s.add(task)
            s.commit()
        available = task.inspector_id is None or task.inspector_id not in unavailable_inspectors(s, campaign.id)
        quality_user = (
            campaign.owner_user_id
            or s.exec(
                select(UserAccount.id).where(UserAccount.role == Role.quality_team, col(UserAccount.active))
            ).first()
        )
        return TaskContext(
            task_id=task_id,
            campaign_id=campaign.id,
            site_id=site.id,
            site_ref=site.ref,
            site_name=site.name,
            site_type=site.site_type,
            site_type_label=labels.get(site.site_type, site.site_type),
            arrondissement=site.arrondissement,
            mode=task.mode,
            state=task.state,
            inspector_id=task.inspector_id,
            inspector_available=available,
            round=task.round,
            window_start=campaign.window_start,
            window_end=campaign.window_end,
            due_on=task.due_on,
            review_deadline=review_deadline(campaign.window_end),
            accept_hours=campaign.acceptance_hours,
            quality_user_id=quality_user,
            referentiel_version=campaign.referentiel_version,
            referentiel=doc,
            submissions=task.submissions,
            send_backs=task.send_backs,
            late=task.late,
            answers=dict(task.answers or {}),
        )

    def record_state(self, record: TaskStateRecord) -> None:
        """Persist a state change (idempotent); an approved result is never changed again."""
        s = self.s
        task = task_or_refuse(s, record.task_id)
        if task.frozen:
            return
        if record.assignment_outcome is not None:
            close_assignment(s, record.task_id, record.round, record.assignment_outcome, record.reason)
        task.state = record.state
        task.inspector_id = record.inspector_id
        task.round = record.round
        if record.late is not None:
            task.late = record.late
        if record.state == TaskState.WITHDRAWN:
            task.withdrawn_reason = record.reason[:300] or None
        task.updated_at = utcnow()
        s.add(task)
        s.commit()

    def record_due_date(self, record: DueDateRecord) -> None:
        """Persist a moved due date and the late flag that goes with it (idempotent)."""
        task = task_or_refuse(self.s, record.task_id)
        if task.frozen:
            return
        task.due_on = record.due_on
        task.late = record.late
        task.updated_at = utcnow()
        self.s.add(task)
        self.s.commit()

    def save_submission(self, record: SubmissionRecord) -> None:
        """Store a validated checklist (answers, evidence keys, audit date)."""
        task = task_or_refuse(self.s, record.task_id)
        if task.frozen:
            raise AuditRefusal(AuditError.ILLEGAL_TRANSITION, "Résultat déjà validé : il ne peut plus changer")
        task.answers = dict(record.answers)
        task.evidence = {k: list(v) for k, v in record.evidence.items()}
        task.visit_date = record.visit_date
        task.inspector_comment = record.comment[:2000] or None
        task.submissions = record.submission_no
        task.state = TaskState.SUBMITTED.value
        task.submitted_at = utcnow()
        task.updated_at = utcnow()
        self.s.add(task)
        self.s.commit()

    def record_review(self, record: ReviewRecord) -> None:
        """Persist a review: approval freezes the result and its score; a send-back keeps the comment."""
        s = self.s
        task = task_or_refuse(s, record.task_id)
        if task.frozen:
            return
        task.review_comment = record.comment[:2000] or None
        task.reviewer_user_id = record.reviewer_user_id
        task.send_backs = record.send_backs
        if record.approved:
            task.state = TaskState.APPROVED.value
            task.frozen = True
            task.approved_at = utcnow()
            task.score_permille = record.score_permille
            close_assignment(s, record.task_id, record.round, TaskState.APPROVED, "")
        else:
            task.state = TaskState.SENT_BACK.value
        task.updated_at = utcnow()
        s.add(task)
        s.commit()
