"""Case-level referral rules: consent, references, business status, SLA of the workflow, signed links."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.calendar import PARIS
from domain.referral_cases import (
    CaseBusinessStatus,
    CaseStatus,
    ConsentScope,
    ContactChannel,
    NeedCategory,
    attachment_prefix,
    case_business_status,
    format_case_ref,
    format_referral_ref,
    validate_consent,
)
from domain.referral_dates import ack_deadline, ack_deadline_at
from domain.referral_links import LinkClaims
from domain.referrals import ReferralState
from ville.referral_links import FamilyLinkClaims, LinkState, ReferralLinkSigner

C = ConsentScope


def test_consent_must_allow_sharing_and_match_the_channel() -> None:
    assert validate_consent({C.SHARE_WITH_PARTNERS}, ContactChannel.NONE, False, False) == []
    assert validate_consent({C.SHARE_WITH_PARTNERS, C.STATUS_LINK}, ContactChannel.SMS, False, True) == []
    errors = validate_consent({C.FOLLOW_UP}, ContactChannel.EMAIL, False, True)
    assert errors == [
        "Sans l'accord de la famille pour partager sa demande, aucune orientation possible.",
        "Le courriel est requis pour un contact par courriel.",
    ]
    assert validate_consent({C.SHARE_WITH_PARTNERS}, ContactChannel.PHONE, True, False) == [
        "Le numéro de téléphone est requis pour un contact par SMS ou téléphone."
    ]
    assert "lien de suivi" in validate_consent({C.SHARE_WITH_PARTNERS, C.STATUS_LINK}, ContactChannel.PHONE,
                                               False, True)[0]  # fmt: skip


def test_references_are_opaque_and_bounded() -> None:
    assert format_case_ref(2026, 42) == "RIF-2026-000042"
    assert format_referral_ref("RIF-2026-000042", 3) == "RIF-2026-000042-03"
    assert attachment_prefix("RIF-2026-000042") == "referrals/RIF-2026-000042/"
    for bad in ((999, 1), (2026, 0), (2026, 1_000_000)):
        with pytest.raises(ValueError):
            format_case_ref(*bad)
    with pytest.raises(ValueError):
        format_referral_ref("RIF-2026-000042", 100)


def test_business_status_of_a_case() -> None:
    S = ReferralState
    assert case_business_status(CaseStatus.OPEN, {}) is CaseBusinessStatus.OPEN
    assert case_business_status(CaseStatus.OPEN, {"a": (S.OPEN, False), "b": (S.REFUSED, True)}) is (
        CaseBusinessStatus.AWAITING_PARTNER
    )
    assert case_business_status(CaseStatus.OPEN, {"a": (S.OPEN, True)}) is CaseBusinessStatus.SLA_BREACHED
    # a breach on an answered referral no longer counts
    assert case_business_status(CaseStatus.OPEN, {"a": (S.ACCEPTED, True)}) is CaseBusinessStatus.OPEN
    assert case_business_status(CaseStatus.CLOSED, {"a": (S.OPEN, True)}) is CaseBusinessStatus.CLOSED
    assert case_business_status(CaseStatus.ANONYMISED, {}) is CaseBusinessStatus.ANONYMISED


def test_every_need_and_channel_has_a_french_label() -> None:
    assert NeedCategory.FINANCIAL_AID.label == "Aides financières"
    assert all(n.label for n in NeedCategory) and all(c.label for c in ContactChannel)


def test_ten_business_day_sla_across_christmas_new_year_and_weekends() -> None:
    # sent Wed 23/12/2026: Thu 24, (Fri 25 Noël), Mon 28 .. Thu 31, (Fri 01/01), Mon 4 .. Thu 7, Fri 8 Jan
    assert ack_deadline(date(2026, 12, 23), 10) == date(2027, 1, 8)
    breach = ack_deadline_at(datetime(2026, 12, 23, 15, 0, tzinfo=UTC), 10)
    assert breach == datetime(2027, 1, 9, 0, 0, tzinfo=PARIS)


KEYS = ["new-key", "old-key"]


def test_partner_links_are_signed_expiring_and_rotatable() -> None:
    now = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    claims = LinkClaims.issue("RIF-2027-000001-01", "7", now)
    signer = ReferralLinkSigner(KEYS)
    token = signer.partner_token(claims)
    assert signer.read_partner_token(token, now + timedelta(days=7)) == (LinkState.VALID, claims)
    assert signer.read_partner_token(token, now + timedelta(days=8)) == (LinkState.EXPIRED, claims)
    # a token signed before a key rotation still verifies; one signed with an unknown key does not
    old = ReferralLinkSigner(["old-key"]).partner_token(claims)
    assert signer.read_partner_token(old, now)[0] is LinkState.VALID
    assert ReferralLinkSigner(["other"]).read_partner_token(token, now) == (LinkState.INVALID, None)
    assert signer.read_partner_token(token[:-2] + "xx", now) == (LinkState.INVALID, None)
    assert signer.read_partner_token("not-a-token", now) == (LinkState.INVALID, None)


def test_family_and_partner_links_cannot_be_swapped() -> None:
    now = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    signer = ReferralLinkSigner(KEYS)
    family = signer.family_token(FamilyLinkClaims("RIF-2027-000001", now + timedelta(days=90)))
    assert signer.read_family_token(family, now) == (
        LinkState.VALID,
        FamilyLinkClaims("RIF-2027-000001", now + timedelta(days=90)),
    )
    assert signer.read_partner_token(family, now) == (LinkState.INVALID, None)
    partner = signer.partner_token(LinkClaims.issue("RIF-2027-000001-01", "7", now))
    assert signer.read_family_token(partner, now) == (LinkState.INVALID, None)
    assert signer.read_family_token(family, now + timedelta(days=91))[0] is LinkState.EXPIRED
