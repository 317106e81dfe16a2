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
from datetime import timedelta

from temporalio import workflow
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
        HistoryEvent,
        NoticeKind,
        PartnerAccept,
        PartnerAcknowledge,
        PartnerRefuse,
        ReferralActivity,
        ReferralCaseInput,
        ReferralCaseResult,
        ReferralCaseState,
        ReferralProcess,
        ReferralRef,
        ReferRequest,
        RenewLink,
    )
    from domain.referral_cases import CaseStatus, format_referral_ref
    from domain.referral_dates import family_link_expiry, follow_up_at
    from domain.referral_links import LINK_RENEWALS_EXHAUSTED, may_renew_link
    from domain.referrals import ReferralEvent
    from ville.temporal import SA_RELAY
    from workflows.referral_checks import REJECTED, reject
    from workflows.referral_effects import ACTIVITY_TIMEOUT, RETRY
    from workflows.referral_timers import ReferralCaseTimers


@workflow.defn
class ReferralCaseWorkflow(ReferralCaseTimers):
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
                    raise reject(cause.message, cause.type or REJECTED) from err
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
            raise reject(LINK_RENEWALS_EXHAUSTED)

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
                info=req.appointment_on.isoformat() if req.appointment_on else "contact_made",
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
