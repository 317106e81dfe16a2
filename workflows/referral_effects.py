"""What a referral case's workflow does to the world: its activity calls, its projection, its search attribute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from contracts.referrals import (
        ActorKind,
        CaseProjection,
        HistoryEntry,
        HistoryEvent,
        NoticeInput,
        NoticeKind,
        NoticeResult,
        RecordInput,
        ReferralActivity,
        ReferralProcess,
        RetentionInput,
        RetentionResult,
    )
    from domain.referral_cases import case_business_status
    from domain.referral_dates import ack_deadline_at, link_expiry
    from domain.referrals import ReferralEvent, ReferralState
    from ville.temporal import SA_BUSINESS_STATUS
    from workflows.referral_checks import ReferralCaseChecks

ACTIVITY_TIMEOUT = timedelta(minutes=2)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=100,  # bounded (~8 h at the 5 min cap)
    non_retryable_error_types=["CaseNotFound", "ServiceUnknown", "ServiceUnavailable"],
)


class ReferralCaseEffects(ReferralCaseChecks):
    """Activity calls (record, notify, retention), links sent to partners, projection and business status."""

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
