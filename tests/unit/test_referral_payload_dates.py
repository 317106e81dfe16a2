"""The referral contracts' appointment day is a `date` in code and the ISO string it always was on the wire."""

from datetime import date

from contracts.referrals import PartnerAccept, ReferralCaseInput, ReferralCaseState, ReferralProcess
from ville.temporal import PayloadConverter

# An accept update as recorded in tests/replay/histories/ReferralCaseWorkflow-1.json (str-typed then).
RECORDED = (
    b'{"actor_kind":"partner","actor_user_id":null,"appointment_on":"2026-11-30","contact_made":false,'
    b'"partner_org_id":1,"referral_ref":"RIF-2099-400465-01"}'
)


def test_an_accept_writes_the_bytes_recorded_before_the_day_was_typed() -> None:
    [payload] = PayloadConverter().to_payloads([PartnerAccept("RIF-2099-400465-01", 1, date(2026, 11, 30))])
    assert payload.data == RECORDED


def test_a_recorded_accept_reads_back_with_a_date() -> None:
    converter = PayloadConverter()
    [payload] = converter.to_payloads([PartnerAccept("RIF-2099-400465-01", 1, date(2026, 11, 30))])
    [accept] = converter.from_payloads([payload], [PartnerAccept])
    assert accept.appointment_on == date(2026, 11, 30)
    [contact] = converter.from_payloads(converter.to_payloads([PartnerAccept("R-1", 1, None, True)]), [PartnerAccept])
    assert contact == PartnerAccept("R-1", 1, None, True)


def test_the_day_survives_continue_as_new_inside_the_case_state() -> None:
    """`ReferralCaseInput.state` (optional) holds a list of processes whose day is optional: all read back typed."""
    process = ReferralProcess("RIF-2099-000001-01", 3, 4, "housing", appointment_on=date(2027, 1, 5))
    inp = ReferralCaseInput("RIF-2099-000001", 7, state=ReferralCaseState(referrals=[process]))
    converter = PayloadConverter()
    [back] = converter.from_payloads(converter.to_payloads([inp]), [ReferralCaseInput])
    assert back == inp
    assert back.state is not None and back.state.referrals[0].appointment_on == date(2027, 1, 5)
