"""RIF case referrals: one workflow per case (`referral-<case ref>`), several referrals inside.

The workflow is the source of truth for process state: partners and agents act through typed updates whose
validators reject illegal transitions; every change is projected to the database (and its append-only
history) by an activity before the update returns. One loop sleeps until the earliest timer of the case:
reminders, SLA escalation, expiry, follow-up, attachment deletion at 6 months, anonymisation at 730 days.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts.referrals import (
        ActorKind,
        CancelReferral,
        CaseProjection,
        CloseCaseRequest,
        CreatedReferral,
        CreateReferralInput,
        EscalateReferral,
        HistoryEntry,
        HistoryEvent,
        NoticeInput,
        NoticeKind,
        NoticeResult,
        PartnerAccept,
        PartnerAcknowledge,
        PartnerRefuse,
        RecordInput,
        ReferralActivity,
        ReferralCaseInput,
        ReferralCaseResult,
        ReferralCaseState,
        ReferralError,
        ReferralProcess,
        ReferralRef,
        ReferRequest,
        RenewLink,
        RetentionInput,
        RetentionResult,
    )
    from domain import referral_messages as msg
    from domain.referral_cases import (
        MAX_REFERRALS_PER_CASE,
        CaseStatus,
        CloseCase,
        NeedCategory,
        case_business_status,
        format_referral_ref,
        validate_close_case,
    )
    from domain.referral_dates import (
        ReferralAction,
        ack_deadline_at,
        anonymise_at,
        appointment_problem,
        attachments_delete_at,
        family_link_expiry,
        follow_up_at,
        link_expiry,
        next_referral_action,
    )
    from domain.referral_links import LINK_RENEWALS_EXHAUSTED, may_renew_link
    from domain.referrals import (
        IllegalTransition,
        ReferralEvent,
        ReferralState,
        RefusalReason,
        transition,
        validate_refusal,
    )
    from ville.temporal import SA_BUSINESS_STATUS, SA_RELAY

ACTIVITY_TIMEOUT = timedelta(minutes=2)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=100,  # bounded (~8 h at the 5 min cap)
    non_retryable_error_types=["CaseNotFound", "ServiceUnknown", "ServiceUnavailable"],
)
# Rejections carry these types so the API maps them without reading messages.
REJECTED, NOT_FOUND, ILLEGAL = ReferralError.REJECTED, ReferralError.NOT_FOUND, ReferralError.ILLEGAL


class _CaseTimer(StrEnum):
    """Timers of the case itself, beside each referral's own (`ReferralAction`)."""

    ANONYMISE = "anonymise"
    DELETE_ATTACHMENTS = "delete_attachments"
    FOLLOW_UP = "follow_up"


class _Due(NamedTuple):
    at: datetime
    priority: int
    action: str
    referral_ref: str | None


def _reject(message: str, kind: str = REJECTED) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


@workflow.defn
class ReferralCaseWorkflow:
    """A family's case: referrals to partners, their SLA clocks, follow-up, closure and retention."""

    @workflow.init
    def __init__(self, inp: ReferralCaseInput) -> None:
        self._input = inp
        self._s = inp.state or ReferralCaseState()
        self._lock = asyncio.Lock()
        self._wake = False
        self._published = False
        # The namespace has our search attributes when the starter indexed the case (the API always does).
        self._indexed = workflow.info().typed_search_attributes.get(SA_RELAY) is not None

    @workflow.run
    async def run(self, inp: ReferralCaseInput) -> ReferralCaseResult:
        """Open the case (first run), then apply due timers until the case is anonymised."""
        s = self._s
        if s.opened_at is None:
            async with self._lock:
                s.opened_at = workflow.now()
                await self._record(HistoryEvent.CASE_OPENED, ActorKind.AGENT, inp.opened_by_user_id)
                await self._notify(
                    NoticeKind.FAMILY_STATUS_LINK,
                    f"{inp.case_ref}:family-link",
                    link_expires_at=family_link_expiry(s.opened_at),
                )
        self._publish()
        while s.status is not CaseStatus.ANONYMISED:
            next_at = await self._apply_due_timers()
            if s.status is CaseStatus.ANONYMISED:
                break
            info = workflow.info()
            if info.is_continue_as_new_suggested() or info.get_current_history_length() >= inp.history_limit:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(replace(self._input, state=self._s))
            self._wake = False
            delay = next_at - workflow.now()
            if delay > timedelta(0):
                with contextlib.suppress(TimeoutError):  # the timer fired: loop to apply it
                    await workflow.wait_condition(lambda: self._wake, timeout=delay)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ReferralCaseResult(
            case_ref=inp.case_ref,
            outcome=s.outcome,
            referrals={r.ref: r.state for r in s.referrals},
            anonymised_at=s.anonymised_at,
        )

    # --- queries ----------------------------------------------------------------------------------

    @workflow.query
    def snapshot(self) -> ReferralCaseState:
        """The process state (refs, ids and dates only)."""
        return self._s

    # --- agent updates ----------------------------------------------------------------------------

    @workflow.update
    async def refer(self, req: ReferRequest) -> ReferralRef:
        """Refer the family to a service, or re-refer a refused/expired/cancelled referral elsewhere."""
        await self._opened()
        async with self._lock:
            self._check_refer(req)
            s, now = self._s, workflow.now()
            ref = format_referral_ref(self._input.case_ref, len(s.referrals) + 1)
            try:
                created = await workflow.execute_activity(
                    ReferralActivity.CREATE,
                    CreateReferralInput(self._input.case_ref, ref, req.service_id, req.need, now, req.replaces_ref),
                    result_type=CreatedReferral,
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=RETRY,
                )
            except ActivityError as err:
                cause = err.cause
                if isinstance(cause, ApplicationError):
                    raise _reject(cause.message, cause.type or REJECTED) from err
                raise
            r = ReferralProcess(ref, req.service_id, created.organization_id, req.need, created_at=now)
            r.replaces_ref = req.replaces_ref
            s.referrals.append(r)
            await self._record(HistoryEvent.REFERRAL_CREATED, ActorKind.AGENT, req.actor_user_id, r, to_status=r.state)
            if req.replaces_ref:
                old = self._find(req.replaces_ref)
                old.replaced_by_ref = ref
                await self._record(HistoryEvent.REFERRAL_REPLACED, ActorKind.AGENT, req.actor_user_id, old, info=ref)
            await self._send(r, ActorKind.AGENT, req.actor_user_id)
            self._wake = True
            return ReferralRef(ref)

    @refer.validator
    def _validate_refer(self, req: ReferRequest) -> None:
        self._check_refer(req)

    @workflow.update
    async def cancel_referral(self, req: CancelReferral) -> ReferralProcess:
        """The agent withdraws a referral still awaiting an answer."""
        await self._opened()
        async with self._lock:
            r = self._find(req.referral_ref)
            self._check_case_open()
            prev, r.state = r.state, self._next(r, ReferralEvent.CANCEL)
            await self._record(
                HistoryEvent.REFERRAL_CANCELLED, ActorKind.AGENT, req.actor_user_id, r, prev, r.state, True
            )
            self._wake = True
            return r

    @cancel_referral.validator
    def _validate_cancel(self, req: CancelReferral) -> None:
        self._check_case_open()
        self._next(self._find(req.referral_ref), ReferralEvent.CANCEL)

    @workflow.update
    async def escalate(self, req: EscalateReferral) -> ReferralProcess:
        """Escalate a referral by hand: the same path as the SLA escalation (coordinator alerted, status)."""
        await self._opened()
        async with self._lock:
            r = self._check_escalate(req)
            r.escalated_at = workflow.now()
            # same key as the automatic escalation: the coordinator is alerted once whichever comes first
            await self._notify(NoticeKind.COORDINATOR_ESCALATION, f"{r.ref}:escalation", r.ref)
            await self._record(HistoryEvent.REFERRAL_ESCALATED, req.actor_kind, req.actor_user_id, r, info="manual")
            self._wake = True
            return r

    @escalate.validator
    def _validate_escalate(self, req: EscalateReferral) -> None:
        self._check_escalate(req)

    def _check_escalate(self, req: EscalateReferral) -> ReferralProcess:
        r = self._find(req.referral_ref)
        self._check_case_open()
        if r.state is not ReferralState.OPEN:
            raise _reject(msg.ONLY_OPEN_ESCALATES, ILLEGAL)
        if r.escalated_at is not None:
            raise _reject(msg.ALREADY_ESCALATED, ILLEGAL)
        return r

    @workflow.update
    async def renew_link(self, req: RenewLink) -> ReferralProcess:
        """Send the partner a fresh secure link (8 days) for a referral awaiting an answer."""
        await self._opened()
        async with self._lock:
            r = self._check_renew(req)
            await self._issue_link(r, NoticeKind.PARTNER_LINK, f"{r.ref}:link:{r.links_issued + 1}")
            await self._record(HistoryEvent.LINK_RENEWED, req.actor_kind, req.actor_user_id, r, partner_visible=True)
            return r

    @renew_link.validator
    def _validate_renew(self, req: RenewLink) -> None:
        r = self._check_renew(req)
        # in the validator only: validators do not run on replay, so histories with more renewals still replay
        if not may_renew_link(r.links_issued):
            raise _reject(LINK_RENEWALS_EXHAUSTED)

    @workflow.update
    async def close(self, req: CloseCaseRequest) -> CaseProjection:
        """Close the case with an outcome (forced: active referrals are cancelled first)."""
        await self._opened()
        async with self._lock:
            self._check_close(req)
            s = self._s
            for r in s.referrals:
                if r.state.is_active:
                    prev, r.state = r.state, self._next(r, ReferralEvent.CANCEL)
                    await self._record(
                        HistoryEvent.REFERRAL_CANCELLED, ActorKind.AGENT, req.actor_user_id, r, prev, r.state, True
                    )
            s.status, s.outcome, s.closed_at = CaseStatus.CLOSED, req.outcome, workflow.now()
            await self._record(HistoryEvent.CASE_CLOSED, ActorKind.AGENT, req.actor_user_id, info=req.outcome.value)
            self._wake = True
            return self._projection()

    @close.validator
    def _validate_close(self, req: CloseCaseRequest) -> None:
        self._check_close(req)

    # --- partner updates --------------------------------------------------------------------------

    @workflow.update
    async def acknowledge(self, req: PartnerAcknowledge) -> ReferralProcess:
        """The partner has seen the referral: the acknowledgement SLA is met (idempotent)."""
        await self._opened()
        async with self._lock:
            r = self._check_acknowledge(req)
            if r.acked_at is None:
                r.acked_at = workflow.now()
                await self._record(
                    HistoryEvent.REFERRAL_ACKNOWLEDGED, req.actor_kind, req.actor_user_id, r, partner_visible=True
                )
            return r

    @acknowledge.validator
    def _validate_acknowledge(self, req: PartnerAcknowledge) -> None:
        self._check_acknowledge(req)

    @workflow.update
    async def accept(self, req: PartnerAccept) -> ReferralProcess:
        """The partner accepts (appointment date or contact made); the family's follow-up is scheduled."""
        await self._opened()
        async with self._lock:
            r = self._check_accept(req)
            now = workflow.now()
            prev, r.state = r.state, self._next(r, ReferralEvent.ACCEPT)
            r.acked_at = r.acked_at or now
            r.answered_at, r.appointment_on, r.contact_made = now, req.appointment_on, req.contact_made
            r.follow_up_at = follow_up_at(now, self._input.follow_up_days)
            await self._record(
                HistoryEvent.REFERRAL_ACCEPTED, req.actor_kind, req.actor_user_id, r, prev, r.state, True,
                info=req.appointment_on or "contact_made",
            )  # fmt: skip
            await self._notify(NoticeKind.AGENT_ANSWER, f"{r.ref}:answer", r.ref)
            self._wake = True
            return r

    @accept.validator
    def _validate_accept(self, req: PartnerAccept) -> None:
        self._check_accept(req)

    @workflow.update
    async def refuse(self, req: PartnerRefuse) -> ReferralProcess:
        """The partner refuses with a reason (and maybe a message); the agent can re-refer elsewhere."""
        await self._opened()
        async with self._lock:
            r = self._check_refuse(req)
            now = workflow.now()
            prev, r.state = r.state, self._next(r, ReferralEvent.REFUSE)
            r.acked_at = r.acked_at or now
            r.answered_at, r.refusal_reason, r.refusal_note_id = now, req.reason, req.note_id
            await self._record(
                HistoryEvent.REFERRAL_REFUSED, req.actor_kind, req.actor_user_id, r, prev, r.state, True,
                info=req.reason.value,
            )  # fmt: skip
            await self._notify(NoticeKind.AGENT_ANSWER, f"{r.ref}:answer", r.ref)
            self._wake = True
            return r

    @refuse.validator
    def _validate_refuse(self, req: PartnerRefuse) -> None:
        self._check_refuse(req)

    # --- checks shared by validators and handlers (state may change while a handler waits) ---------

    def _check_case_open(self) -> None:
        if self._s.status is not CaseStatus.OPEN:
            raise _reject(msg.CASE_CLOSED)

    def _find(self, ref: str, partner_org_id: int | None = None) -> ReferralProcess:
        for r in self._s.referrals:
            if r.ref == ref and (partner_org_id is None or r.organization_id == partner_org_id):
                return r
        raise _reject(msg.REFERRAL_NOT_FOUND, NOT_FOUND)

    @staticmethod
    def _next(r: ReferralProcess, event: ReferralEvent) -> ReferralState:
        try:
            return transition(r.state, event)
        except IllegalTransition as err:
            raise _reject(str(err), ILLEGAL) from None

    def _check_refer(self, req: ReferRequest) -> None:
        self._check_case_open()
        try:
            NeedCategory(req.need)
        except ValueError:
            raise _reject(msg.unknown_need(req.need)) from None
        s = self._s
        if len(s.referrals) >= MAX_REFERRALS_PER_CASE:
            raise _reject(msg.too_many_referrals(MAX_REFERRALS_PER_CASE))
        if any(r.service_id == req.service_id and r.state.is_active for r in s.referrals):
            raise _reject(msg.SERVICE_ALREADY_PENDING)
        if req.replaces_ref is not None:
            old = self._find(req.replaces_ref)
            if old.state not in (ReferralState.REFUSED, ReferralState.EXPIRED, ReferralState.CANCELLED):
                raise _reject(msg.only_closed_rerefers(old.state.label))
            if old.replaced_by_ref is not None:
                raise _reject(msg.already_rereferred(old.replaced_by_ref))
            if old.service_id == req.service_id:
                raise _reject(msg.CHOOSE_ANOTHER_PARTNER)

    def _check_renew(self, req: RenewLink) -> ReferralProcess:
        self._check_case_open()
        r = self._find(req.referral_ref, req.partner_org_id)
        if r.state is not ReferralState.OPEN:
            raise _reject(msg.link_only_for_open(r.state.label))
        return r

    def _check_close(self, req: CloseCaseRequest) -> None:
        if self._s.status is not CaseStatus.OPEN:
            raise _reject(msg.CASE_ALREADY_CLOSED)
        # the comment's text stays in the database; only its presence matters to the rule
        comment = "" if req.note_id is None else msg.RECORDED_COMMENT
        states = {r.ref: r.state for r in self._s.referrals}
        errors = validate_close_case(CloseCase(req.outcome, comment, req.force), states)
        if errors:
            raise _reject(" ".join(errors))

    def _check_acknowledge(self, req: PartnerAcknowledge) -> ReferralProcess:
        self._check_case_open()
        r = self._find(req.referral_ref, req.partner_org_id)
        if r.state is not ReferralState.OPEN:
            raise _reject(msg.cannot_acknowledge(r.state.label), ILLEGAL)
        return r

    def _check_accept(self, req: PartnerAccept) -> ReferralProcess:
        self._check_case_open()
        r = self._find(req.referral_ref, req.partner_org_id)
        self._next(r, ReferralEvent.ACCEPT)
        problem = appointment_problem(req.appointment_on, req.contact_made, workflow.now())
        if problem is not None:
            raise _reject(problem)
        return r

    def _check_refuse(self, req: PartnerRefuse) -> ReferralProcess:
        self._check_case_open()
        r = self._find(req.referral_ref, req.partner_org_id)
        self._next(r, ReferralEvent.REFUSE)
        try:
            reason = RefusalReason(req.reason)
        except ValueError:
            raise _reject(msg.unknown_refusal_reason(req.reason)) from None
        errors = validate_refusal(reason, "" if req.note_id is None else msg.RECORDED_MESSAGE)
        if errors:
            raise _reject(" ".join(errors))
        return r

    # --- timers -----------------------------------------------------------------------------------

    def _next_due(self, now: datetime) -> _Due:
        s = self._s
        assert s.opened_at is not None
        due = [_Due(anonymise_at(s.opened_at), 9, _CaseTimer.ANONYMISE, None)]
        if s.attachments_deleted_at is None:
            due.append(_Due(attachments_delete_at(s.opened_at), 8, _CaseTimer.DELETE_ATTACHMENTS, None))
        for r in s.referrals:
            if r.state is ReferralState.OPEN:
                nxt = next_referral_action(
                    r.state, now, r.opened_at, r.acked_at is not None, r.last_reminder_at, r.sla_deadline,
                    r.escalated_at is not None,
                )  # fmt: skip
                if nxt.at is not None and nxt.action is not ReferralAction.NONE:
                    due.append(_Due(nxt.at, 0, nxt.action.value, r.ref))
            elif (
                r.state is ReferralState.ACCEPTED
                and s.status is CaseStatus.OPEN
                and r.follow_up_at is not None
                and r.follow_up_done_at is None
            ):
                due.append(_Due(r.follow_up_at, 1, _CaseTimer.FOLLOW_UP, r.ref))
        return min(due, key=lambda d: (d.at, d.priority))

    async def _apply_due_timers(self) -> datetime:
        """Apply every timer already due; return when the next one is."""
        async with self._lock:
            while True:
                now = workflow.now()
                due = self._next_due(now)
                if due.at > now:
                    return due.at
                await self._apply(due)
                if self._s.status is CaseStatus.ANONYMISED:
                    return now

    async def _apply(self, due: _Due) -> None:
        s, now = self._s, workflow.now()
        if due.action == _CaseTimer.ANONYMISE:
            await self._anonymise()
            return
        if due.action == _CaseTimer.DELETE_ATTACHMENTS:
            removed = await self._retention(ReferralActivity.DELETE_ATTACHMENTS)
            s.attachments_deleted_at = now
            await self._record(HistoryEvent.ATTACHMENTS_DELETED, ActorKind.SYSTEM, info=str(removed.objects_deleted))
            return
        assert due.referral_ref is not None
        r = self._find(due.referral_ref)
        if due.action == ReferralAction.REMIND.value:
            r.reminders_sent += 1
            r.last_reminder_at = now
            await self._issue_link(r, NoticeKind.PARTNER_REMINDER, f"{r.ref}:reminder:{r.reminders_sent}")
            await self._record(
                HistoryEvent.REFERRAL_REMINDED, ActorKind.SYSTEM, None, r, partner_visible=True,
                info=str(r.reminders_sent),
            )  # fmt: skip
        elif due.action == ReferralAction.ESCALATE.value:
            r.escalated_at = now
            await self._notify(NoticeKind.COORDINATOR_ESCALATION, f"{r.ref}:escalation", r.ref)
            await self._record(HistoryEvent.REFERRAL_ESCALATED, ActorKind.SYSTEM, None, r)
        elif due.action == ReferralAction.EXPIRE.value:
            prev, r.state = r.state, self._next(r, ReferralEvent.EXPIRE)
            await self._record(HistoryEvent.REFERRAL_EXPIRED, ActorKind.SYSTEM, None, r, prev, r.state, True)
            await self._notify(NoticeKind.AGENT_EXPIRED, f"{r.ref}:expired", r.ref)
        elif due.action == _CaseTimer.FOLLOW_UP:
            res = await self._notify(
                NoticeKind.FAMILY_FOLLOW_UP,
                f"{r.ref}:follow-up",
                r.ref,
                link_expires_at=family_link_expiry(now),
            )
            r.follow_up_done_at, r.follow_up_channel = now, res.channel
            await self._record(HistoryEvent.FOLLOW_UP, ActorKind.SYSTEM, None, r, info=res.channel)

    async def _anonymise(self) -> None:
        s = self._s
        if s.status is CaseStatus.OPEN:  # retention reached on a case nobody closed
            for r in s.referrals:
                if r.state.is_active:
                    prev, r.state = r.state, self._next(r, ReferralEvent.CANCEL)
                    await self._record(HistoryEvent.REFERRAL_CANCELLED, ActorKind.SYSTEM, None, r, prev, r.state)
            s.status, s.closed_at = CaseStatus.CLOSED, workflow.now()
            await self._record(HistoryEvent.CASE_CLOSED, ActorKind.SYSTEM, info="retention")
        res = await self._retention(ReferralActivity.ANONYMISE)
        s.status, s.anonymised_at = CaseStatus.ANONYMISED, workflow.now()
        if s.attachments_deleted_at is None:
            s.attachments_deleted_at = s.anonymised_at
        await self._record(HistoryEvent.CASE_ANONYMISED, ActorKind.SYSTEM, info=str(res.objects_deleted))

    # --- effects ------------------------------------------------------------------------------------

    async def _opened(self) -> None:
        # an update may arrive in the same task as the start: let `run` open the case first
        await workflow.wait_condition(lambda: self._s.opened_at is not None)

    async def _send(self, r: ReferralProcess, actor: ActorKind, actor_user_id: int | None) -> None:
        now = workflow.now()
        # Before the e-mail, which prints it (timers read it only once the referral is open: same commands).
        r.sla_deadline = ack_deadline_at(now, self._input.ack_business_days).astimezone(UTC)
        res = await self._issue_link(r, NoticeKind.PARTNER_NEW, f"{r.ref}:new")
        prev, r.state = r.state, self._next(r, ReferralEvent.NOTIFY)
        r.opened_at = now
        await self._record(
            HistoryEvent.REFERRAL_SENT, actor, actor_user_id, r, prev, r.state, True,
            info="" if res.sent else "notification_failed",
        )  # fmt: skip

    async def _issue_link(self, r: ReferralProcess, kind: NoticeKind, key: str) -> NoticeResult:
        r.links_issued += 1
        r.link_expires_at = link_expiry(workflow.now())
        return await self._notify(kind, key, r.ref, link_expires_at=r.link_expires_at, ack_deadline_at=r.sla_deadline)

    async def _notify(
        self,
        kind: NoticeKind,
        key: str,
        referral_ref: str | None = None,
        link_expires_at: datetime | None = None,
        ack_deadline_at: datetime | None = None,
    ) -> NoticeResult:
        return await workflow.execute_activity(
            ReferralActivity.NOTIFY,
            NoticeInput(self._input.case_ref, kind, key, referral_ref, link_expires_at, ack_deadline_at),
            result_type=NoticeResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )

    async def _retention(self, activity: ReferralActivity) -> RetentionResult:
        return await workflow.execute_activity(
            activity,
            RetentionInput(self._input.case_ref, workflow.now()),
            result_type=RetentionResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )

    async def _record(
        self,
        event: HistoryEvent,
        actor: ActorKind,
        actor_user_id: int | None = None,
        referral: ReferralProcess | None = None,
        from_status: ReferralState | None = None,
        to_status: ReferralState | None = None,
        partner_visible: bool = False,
        info: str = "",
    ) -> None:
        s = self._s
        s.history_seq += 1
        self._publish()
        entry = HistoryEntry(
            seq=s.history_seq,
            at=workflow.now(),
            event=event,
            actor_kind=actor,
            actor_user_id=actor_user_id,
            referral_ref=referral.ref if referral else None,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value if to_status else None,
            partner_visible=partner_visible,
            info=info,
        )
        await workflow.execute_activity(
            ReferralActivity.RECORD,
            RecordInput(self._input.case_ref, entry, self._projection(), referral),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )

    def _projection(self) -> CaseProjection:
        s = self._s
        return CaseProjection(
            status=s.status,
            business_status=s.business_status,
            opened_at=s.opened_at,
            outcome=s.outcome,
            closed_at=s.closed_at,
            attachments_deleted_at=s.attachments_deleted_at,
            anonymised_at=s.anonymised_at,
        )

    def _publish(self) -> None:
        """Refresh the business status (and its search attribute when the case is indexed)."""
        s = self._s
        status = case_business_status(s.status, {r.ref: (r.state, r.escalated_at is not None) for r in s.referrals})
        if status is not s.business_status or not self._published:
            s.business_status = status
            self._published = True
            if self._indexed:
                workflow.upsert_search_attributes([SA_BUSINESS_STATUS.value_set(status.value)])
