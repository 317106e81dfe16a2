"""RIF referrals: states, SLA across French holidays, timers, retention, closure, link claims."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.referral_cases import CaseOutcome, CloseCase, active_referrals, validate_close_case
from domain.referral_dates import (
    NextAction,
    ReferralAction,
    ack_deadline,
    ack_deadline_at,
    ack_last_day,
    anonymise_at,
    attachments_delete_at,
    expires_at,
    link_expiry,
    next_referral_action,
    reminder_times,
)
from domain.referral_links import LinkClaims
from domain.referrals import (
    ACTIVE_STATES,
    IllegalTransition,
    ReferralEvent,
    ReferralState,
    RefusalReason,
    transition,
    validate_refusal,
)

PARIS = ZoneInfo("Europe/Paris")
S, E = ReferralState, ReferralEvent
A = ReferralAction

EXPECTED = {
    (S.PENDING, E.NOTIFY): S.OPEN,
    (S.PENDING, E.CANCEL): S.CANCELLED,
    (S.OPEN, E.ACCEPT): S.ACCEPTED,
    (S.OPEN, E.REFUSE): S.REFUSED,
    (S.OPEN, E.EXPIRE): S.EXPIRED,
    (S.OPEN, E.CANCEL): S.CANCELLED,
}


@pytest.mark.parametrize("state", list(ReferralState))
@pytest.mark.parametrize("event", list(ReferralEvent))
def test_transition_matrix(state: ReferralState, event: ReferralEvent) -> None:
    expected = EXPECTED.get((state, event))
    if expected is None:
        with pytest.raises(IllegalTransition) as exc:
            transition(state, event)
        assert (exc.value.state, exc.value.event) == (state, event)
    else:
        assert transition(state, event) is expected


def test_illegal_transition_messages() -> None:
    with pytest.raises(IllegalTransition) as exc:
        transition(S.PENDING, E.ACCEPT)
    assert str(exc.value) == (
        "Impossible d'accepter une orientation en attente d'envoi (pending --accept--> ?). "
        "Événements possibles : notify, cancel."
    )
    with pytest.raises(IllegalTransition, match="aucun \\(état final\\)"):
        transition(S.REFUSED, E.ACCEPT)
    assert {S.PENDING, S.OPEN} == ACTIVE_STATES


# --- business-day SLA across real French holidays -----------------------------------------------


@pytest.mark.parametrize(
    ("sent", "deadline"),
    [
        # Friday after Ascension (Thu 06/05/2027): Mon 10, Tue 11, Wed 12
        (date(2027, 5, 7), date(2027, 5, 12)),
        # Wednesday before Ascension: the holiday is skipped (Fri 7, Mon 10, Tue 11)
        (date(2027, 5, 5), date(2027, 5, 11)),
        # Friday before Whit Monday (17/05/2027): Tue 18, Wed 19, Thu 20
        (date(2027, 5, 14), date(2027, 5, 20)),
        # Tuesday before Armistice (Wed 11/11/2026): Thu 12, Fri 13, Mon 16
        (date(2026, 11, 10), date(2026, 11, 16)),
        # Christmas Eve 2026 (Noël is a Friday): Mon 28, Tue 29, Wed 30
        (date(2026, 12, 24), date(2026, 12, 30)),
        # sent on a Saturday: Mon, Tue, Wed
        (date(2026, 11, 14), date(2026, 11, 18)),
        # an ordinary week
        (date(2026, 10, 5), date(2026, 10, 8)),
    ],
)
def test_ack_deadline_counts_french_business_days(sent: date, deadline: date) -> None:
    assert ack_deadline(sent) == deadline


def test_ack_deadline_custom_length_and_guard() -> None:
    assert ack_deadline(date(2026, 12, 24), business_days=1) == date(2026, 12, 28)
    with pytest.raises(ValueError):
        ack_deadline(date(2026, 12, 24), business_days=0)


def test_ack_deadline_at_uses_the_paris_calendar_day() -> None:
    # 23:30 UTC on 05/05/2027 is already Ascension day in Paris: Fri 7, Mon 10, Tue 11
    sent = datetime(2027, 5, 5, 23, 30, tzinfo=UTC)
    breach = ack_deadline_at(sent)
    assert breach == datetime(2027, 5, 12, 0, 0, tzinfo=PARIS)
    assert breach.astimezone(UTC) == datetime(2027, 5, 11, 22, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        ack_deadline_at(datetime(2027, 5, 5, 10, 0))


def test_ack_last_day_is_the_deadline_day_not_the_breach_instant_day() -> None:
    # Sent Wed 05/05/2027 (Paris): 3 business days (Ascension on Thu 6) end on Tue 11; breach at Wed 12 00:00.
    sent = datetime(2027, 5, 5, 9, 0, tzinfo=UTC)
    breach = ack_deadline_at(sent, 3)
    assert ack_last_day(breach) == ack_deadline(date(2027, 5, 5), 3) == date(2027, 5, 11)
    assert ack_last_day(breach.astimezone(UTC)) == date(2027, 5, 11)  # as stored: UTC, 22:00 the day before
    with pytest.raises(ValueError, match="timezone-aware"):
        ack_last_day(datetime(2027, 5, 12, 0, 0))


# --- clocks and retention -------------------------------------------------------------------------

OPENED = datetime(2027, 5, 7, 9, 30, tzinfo=PARIS)


def test_reminders_every_ten_days_until_expiry_at_thirty() -> None:
    assert expires_at(OPENED) == OPENED + timedelta(days=30)
    assert reminder_times(OPENED) == [OPENED + timedelta(days=10), OPENED + timedelta(days=20)]
    assert reminder_times(OPENED, every_days=7) == [OPENED + timedelta(days=d) for d in (7, 14, 21, 28)]
    assert reminder_times(OPENED, every_days=40) == []


def test_link_and_retention_dates() -> None:
    assert link_expiry(OPENED) == datetime(2027, 5, 15, 9, 30, tzinfo=PARIS)
    assert attachments_delete_at(date(2026, 8, 31)) == date(2027, 2, 28)
    assert attachments_delete_at(date(2027, 8, 31)) == date(2028, 2, 29)
    assert attachments_delete_at(OPENED) == datetime(2027, 11, 7, 9, 30, tzinfo=PARIS)
    assert attachments_delete_at(date(2027, 1, 15), months=1) == date(2027, 2, 15)
    assert anonymise_at(date(2026, 1, 1)) == date(2028, 1, 1)
    assert anonymise_at(date(2027, 3, 1)) == date(2029, 2, 28)  # 2028 is a leap year
    assert anonymise_at(OPENED, days=1) == OPENED + timedelta(days=1)


# --- next_referral_action -------------------------------------------------------------------------


def run_timers(
    opened: datetime,
    sla_deadline: datetime | None,
    acked: bool = False,
    now: datetime | None = None,
) -> list[tuple[ReferralAction, datetime]]:
    """Drive next_referral_action like the workflow does: sleep until `at`, apply, ask again."""
    state, last_reminder, escalated = S.OPEN, None, False
    now = now or opened
    done: list[tuple[ReferralAction, datetime]] = []
    for _ in range(20):
        action, at = next_referral_action(state, now, opened, acked, last_reminder, sla_deadline, escalated)
        if action is A.NONE:
            return done
        assert at is not None
        now = max(now, at)
        done.append((action, now))
        if action is A.REMIND:
            last_reminder = now
        elif action is A.ESCALATE:
            escalated = True
        else:
            state = transition(state, E.EXPIRE)
    raise AssertionError("timers never settled")


def test_unanswered_referral_is_escalated_reminded_twice_then_expired() -> None:
    deadline = ack_deadline_at(OPENED)  # end of Wed 12/05/2027, Paris
    assert run_timers(OPENED, deadline) == [
        (A.ESCALATE, datetime(2027, 5, 13, 0, 0, tzinfo=PARIS)),
        (A.REMIND, OPENED + timedelta(days=10)),
        (A.REMIND, OPENED + timedelta(days=20)),
        (A.EXPIRE, OPENED + timedelta(days=30)),
    ]


def test_acknowledged_referral_is_not_escalated_but_still_reminded() -> None:
    assert [a for a, _ in run_timers(OPENED, ack_deadline_at(OPENED), acked=True)] == [
        A.REMIND,
        A.REMIND,
        A.EXPIRE,
    ]


def test_late_worker_sends_one_catch_up_reminder_not_a_burst() -> None:
    late = OPENED + timedelta(days=25)
    assert run_timers(OPENED, None, now=late) == [
        (A.REMIND, late),
        (A.EXPIRE, OPENED + timedelta(days=30)),
    ]


def test_ties_resolve_escalate_before_remind_and_expire_first() -> None:
    at_ten = OPENED + timedelta(days=10)
    first = next_referral_action(S.OPEN, OPENED, OPENED, False, None, at_ten, False)
    assert first == NextAction(A.ESCALATE, at_ten)
    second = next_referral_action(S.OPEN, at_ten, OPENED, False, None, at_ten, True)
    assert second == NextAction(A.REMIND, at_ten)
    expiry = OPENED + timedelta(days=30)
    assert next_referral_action(S.OPEN, expiry, OPENED, False, None, expiry, False) == NextAction(A.EXPIRE, expiry)


@pytest.mark.parametrize("state", [S.PENDING, S.ACCEPTED, S.REFUSED, S.EXPIRED, S.CANCELLED])
def test_no_timer_outside_open(state: ReferralState) -> None:
    assert next_referral_action(state, OPENED, OPENED, False, None, None, False) == NextAction(A.NONE, None)


def test_next_action_guards() -> None:
    with pytest.raises(ValueError, match="opened_at"):
        next_referral_action(S.OPEN, OPENED, None, False, None, None, False)
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        next_referral_action(S.OPEN, datetime(2027, 5, 7), OPENED, False, None, None, False)


# --- refusal, closure, links ----------------------------------------------------------------------


def test_refusal_reasons_have_french_labels_and_autre_needs_a_comment() -> None:
    assert RefusalReason.HORS_PERIMETRE.label == "Hors de notre périmètre"
    assert RefusalReason.COMPLET.label == "Plus de place disponible"
    assert RefusalReason.INJOIGNABLE.label == "Famille injoignable"
    assert RefusalReason.AUTRE.label == "Autre"
    assert validate_refusal(RefusalReason.COMPLET) == []
    assert validate_refusal(RefusalReason.AUTRE, "  ") == ["Merci de préciser le motif du refus."]
    assert validate_refusal(RefusalReason.AUTRE, "Déménagement hors de Paris") == []
    assert validate_refusal(RefusalReason.COMPLET, "x" * 2001) == [
        "Le commentaire ne doit pas dépasser 2000 caractères."
    ]


def test_case_cannot_close_with_active_referrals_unless_forced_with_a_reason() -> None:
    referrals = {"R-3": S.OPEN, "R-1": S.PENDING, "R-2": S.ACCEPTED, "R-4": S.EXPIRED}
    assert active_referrals(referrals) == ("R-1", "R-3")
    errors = validate_close_case(CloseCase(CaseOutcome.RESOLVED), referrals)
    assert errors == [
        "Impossible de clôturer : 2 orientation(s) en attente de réponse (R-1, R-3). Annulez-les ou forcez la clôture."
    ]
    forced = CloseCase(CaseOutcome.FAMILY_UNREACHABLE, force=True)
    assert validate_close_case(forced, referrals) == ["Une clôture forcée doit être motivée par un commentaire."]
    justified = CloseCase(CaseOutcome.FAMILY_UNREACHABLE, comment="Trois appels sans réponse", force=True)
    assert validate_close_case(justified, referrals) == []


def test_case_with_only_answered_referrals_closes() -> None:
    referrals = {"R-1": S.ACCEPTED, "R-2": S.REFUSED}
    assert validate_close_case(CloseCase(CaseOutcome.PARTIALLY_RESOLVED), referrals) == []
    assert validate_close_case(CloseCase(CaseOutcome.WITHDRAWN), {}) == []
    assert CaseOutcome.FAMILY_UNREACHABLE.label == "Famille injoignable"


def test_link_claims_expire_after_eight_days_and_round_trip() -> None:
    claims = LinkClaims.issue("ORI-2027-000042", "partner-caf", OPENED)
    assert claims.expires_at == OPENED + timedelta(days=8)
    assert claims.is_valid_at(claims.expires_at - timedelta(seconds=1))
    assert not claims.is_valid_at(claims.expires_at)
    assert LinkClaims.from_payload(claims.as_payload()) == claims
    with pytest.raises(ValueError):
        LinkClaims("ORI-1", "p", datetime(2027, 5, 15))
    with pytest.raises(ValueError):
        LinkClaims("", "p", OPENED)
