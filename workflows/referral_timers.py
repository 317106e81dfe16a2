"""The timers of a referral case: reminders, SLA escalation, expiry, follow-up, attachment deletion, anonymisation.

The workflow sleeps until the earliest one is due, then applies every timer already due, in a fixed order.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.referrals import ActorKind, HistoryEvent, NoticeKind, ReferralActivity
    from domain.referral_cases import CaseStatus
    from domain.referral_dates import (
        ReferralAction,
        anonymise_at,
        attachments_delete_at,
        family_link_expiry,
        next_referral_action,
    )
    from domain.referrals import ReferralEvent, ReferralState
    from workflows.referral_effects import ReferralCaseEffects


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


class ReferralCaseTimers(ReferralCaseEffects):
    """Finds the next timer of the case and applies every one already due (under the case's lock)."""

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
