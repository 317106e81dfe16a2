"""Pure rules of a cycle start: period ended (Paris date), refusals in French, registration coverage."""

from __future__ import annotations

from datetime import date

from domain.billing_cycle import ExistingCycle, StartRefusal, start_refusal
from domain.invoicing import RegistrationSpan, is_registered
from domain.periods import period_from_key, period_has_ended, period_not_ended_fr

SEPT = period_from_key("2026-09")  # september–october 2026


def test_a_period_ends_after_its_last_day() -> None:
    assert not period_has_ended(SEPT, date(2026, 9, 1))
    assert not period_has_ended(SEPT, date(2026, 10, 31))
    assert period_has_ended(SEPT, date(2026, 11, 1))
    message = period_not_ended_fr(SEPT)
    assert "n'est pas terminée" in message and "31/10/2026" in message and "01/11/2026" in message


def test_refusals_say_what_is_true() -> None:
    label = SEPT.label_fr
    done = start_refusal(label, ExistingCycle(running=False), 500)
    assert done.code is StartRefusal.ALREADY_BILLED and "déjà facturée" in done.message_fr
    running = start_refusal(label, ExistingCycle(True, "issuing", False, 500), 500)
    assert running.code is StartRefusal.RUNNING and "Émission des factures" in running.message_fr
    paused = start_refusal(label, ExistingCycle(True, "issuing", True, 500), 500)
    assert paused.code is StartRefusal.PAUSED and "en pause" in paused.message_fr
    other = start_refusal(label, ExistingCycle(True, "issuing", True, 500), 100)
    assert other.code is StartRefusal.BATCH_SIZE and "500" in other.message_fr and "100" in other.message_fr
    # the running cycle did not answer: no batch size to compare, it is still "running"
    unknown = start_refusal(label, ExistingCycle(True, "planning"), 100)
    assert unknown.code is StartRefusal.RUNNING and "Préparation" in unknown.message_fr


def test_registration_covers_its_activity_and_dates_only() -> None:
    spans = [
        RegistrationSpan("cantine", date(2026, 9, 1), date(2026, 9, 30)),
        RegistrationSpan("etude", date(2026, 10, 5)),
    ]
    assert is_registered(spans, "cantine", date(2026, 9, 1))
    assert is_registered(spans, "cantine", date(2026, 9, 30))
    assert not is_registered(spans, "cantine", date(2026, 10, 1))  # after the registration's end
    assert not is_registered(spans, "gouter", date(2026, 9, 10))  # another activity
    assert is_registered(spans, "etude", date(2027, 6, 1))  # open-ended
    assert not is_registered(spans, "etude", date(2026, 10, 4))
    assert not is_registered([], "cantine", date(2026, 9, 10))
