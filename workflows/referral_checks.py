"""The rules a referral case's updates check, shared by validators and handlers (state may change while one waits).

A refusal is a non-retryable `ApplicationError` whose type the API maps to HTTP without reading its message.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts.referrals import (
        CloseCaseRequest,
        EscalateReferral,
        PartnerAccept,
        PartnerAcknowledge,
        PartnerRefuse,
        ReferralCaseInput,
        ReferralCaseState,
        ReferralError,
        ReferralProcess,
        ReferRequest,
        RenewLink,
    )
    from domain import referral_messages as msg
    from domain.referral_cases import MAX_REFERRALS_PER_CASE, CaseStatus, CloseCase, NeedCategory, validate_close_case
    from domain.referral_dates import appointment_problem
    from domain.referrals import (
        IllegalTransition,
        ReferralEvent,
        ReferralState,
        RefusalReason,
        transition,
        validate_refusal,
    )

# Rejections carry these types so the API maps them without reading messages.
REJECTED, NOT_FOUND, ILLEGAL = ReferralError.REJECTED, ReferralError.NOT_FOUND, ReferralError.ILLEGAL


def reject(message: str, kind: str = REJECTED) -> ApplicationError:
    """A refused update: a business rule (422), an unknown referral (404) or an illegal transition (409)."""
    return ApplicationError(message, type=kind, non_retryable=True)


class ReferralCaseChecks:
    """The case's state and the checks its updates run before (validator) and after waiting (handler)."""

    _input: ReferralCaseInput
    _s: ReferralCaseState
    _lock: asyncio.Lock
    _wake: bool
    _published: bool
    _indexed: bool

    def _check_case_open(self) -> None:
        if self._s.status is not CaseStatus.OPEN:
            raise reject(msg.CASE_CLOSED)

    def _find(self, ref: str, partner_org_id: int | None = None) -> ReferralProcess:
        for r in self._s.referrals:
            if r.ref == ref and (partner_org_id is None or r.organization_id == partner_org_id):
                return r
        raise reject(msg.REFERRAL_NOT_FOUND, NOT_FOUND)

    @staticmethod
    def _next(r: ReferralProcess, event: ReferralEvent) -> ReferralState:
        try:
            return transition(r.state, event)
        except IllegalTransition as err:
            raise reject(str(err), ILLEGAL) from None

    def _check_refer(self, req: ReferRequest) -> None:
        self._check_case_open()
        try:
            NeedCategory(req.need)
        except ValueError:
            raise reject(msg.unknown_need(req.need)) from None
        s = self._s
        if len(s.referrals) >= MAX_REFERRALS_PER_CASE:
            raise reject(msg.too_many_referrals(MAX_REFERRALS_PER_CASE))
        if any(r.service_id == req.service_id and r.state.is_active for r in s.referrals):
            raise reject(msg.SERVICE_ALREADY_PENDING)
        if req.replaces_ref is not None:
            old = self._find(req.replaces_ref)
            if old.state not in (ReferralState.REFUSED, ReferralState.EXPIRED, ReferralState.CANCELLED):
                raise reject(msg.only_closed_rerefers(old.state.label))
            if old.replaced_by_ref is not None:
                raise reject(msg.already_rereferred(old.replaced_by_ref))
            if old.service_id == req.service_id:
                raise reject(msg.CHOOSE_ANOTHER_PARTNER)

    def _check_renew(self, req: RenewLink) -> ReferralProcess:
        self._check_case_open()
        r = self._find(req.referral_ref, req.partner_org_id)
        if r.state is not ReferralState.OPEN:
            raise reject(msg.link_only_for_open(r.state.label))
        return r

    def _check_close(self, req: CloseCaseRequest) -> None:
        if self._s.status is not CaseStatus.OPEN:
            raise reject(msg.CASE_ALREADY_CLOSED)
        # the comment's text stays in the database; only its presence matters to the rule
        comment = "" if req.note_id is None else msg.RECORDED_COMMENT
        states = {r.ref: r.state for r in self._s.referrals}
        errors = validate_close_case(CloseCase(req.outcome, comment, req.force), states)
        if errors:
            raise reject(" ".join(errors))

    def _check_acknowledge(self, req: PartnerAcknowledge) -> ReferralProcess:
        self._check_case_open()
        r = self._find(req.referral_ref, req.partner_org_id)
        if r.state is not ReferralState.OPEN:
            raise reject(msg.cannot_acknowledge(r.state.label), ILLEGAL)
        return r

    def _check_accept(self, req: PartnerAccept) -> ReferralProcess:
        self._check_case_open()
        r = self._find(req.referral_ref, req.partner_org_id)
        self._next(r, ReferralEvent.ACCEPT)
        problem = appointment_problem(req.appointment_on, req.contact_made, workflow.now())
        if problem is not None:
            raise reject(problem)
        return r

    def _check_refuse(self, req: PartnerRefuse) -> ReferralProcess:
        self._check_case_open()
        r = self._find(req.referral_ref, req.partner_org_id)
        self._next(r, ReferralEvent.REFUSE)
        try:
            reason = RefusalReason(req.reason)
        except ValueError:
            raise reject(msg.unknown_refusal_reason(req.reason)) from None
        errors = validate_refusal(reason, "" if req.note_id is None else msg.RECORDED_MESSAGE)
        if errors:
            raise reject(" ".join(errors))
        return r

    def _check_escalate(self, req: EscalateReferral) -> ReferralProcess:
        r = self._find(req.referral_ref)
        self._check_case_open()
        if r.state is not ReferralState.OPEN:
            raise reject(msg.ONLY_OPEN_ESCALATES, ILLEGAL)
        if r.escalated_at is not None:
            raise reject(msg.ALREADY_ESCALATED, ILLEGAL)
        return r
