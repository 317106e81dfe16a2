"""Audit contracts typed `date` (or `date | None`) travel as the ISO strings they were, and read back as dates."""

from datetime import date

from temporalio.converter import DataConverter

from contracts.audit_campaign import AuditCampaignInput, CampaignCarry, ReauditPlan
from contracts.audit_inspection import ExtendDeadline, SubmitChecklist
from ville.temporal import PayloadConverter


def test_an_optional_date_writes_its_iso_string_and_reads_back_as_a_date() -> None:
    converter = PayloadConverter()
    [typed] = converter.to_payloads([AuditCampaignInput(7, start_on=date(2027, 1, 19))])
    before = {"campaign_id": 7, "start_on": "2027-01-19", "wave_size": 200, "max_history_events": 10_000, "carry": None}
    assert typed == DataConverter.default.payload_converter.to_payloads([before])[0]
    assert converter.from_payloads([typed], [AuditCampaignInput]) == [AuditCampaignInput(7, date(2027, 1, 19))]
    [none] = converter.from_payloads(converter.to_payloads([ReauditPlan(None, None)]), [ReauditPlan])
    assert none == ReauditPlan(None, None)


def test_nested_and_update_dates_read_back_as_dates() -> None:
    converter = PayloadConverter()
    carry = CampaignCarry(date(2026, 11, 26), date(2026, 12, 16), date(2026, 12, 31), to_start=[1])
    inp = AuditCampaignInput(7, carry=carry)
    assert converter.from_payloads(converter.to_payloads([inp]), [AuditCampaignInput]) == [inp]
    # as recorded histories carry them: plain ISO strings from before the fields were typed
    [payload] = DataConverter.default.payload_converter.to_payloads(
        [{"inspector_id": 3, "visit_date": "2026-11-28", "answers": {"E01.1": True}}]
    )
    [checklist] = converter.from_payloads([payload], [SubmitChecklist])
    assert checklist == SubmitChecklist(3, date(2026, 11, 28), {"E01.1": True})
    [payload] = DataConverter.default.payload_converter.to_payloads([{"new_due_on": "2026-12-11", "by_user_id": 5}])
    assert converter.from_payloads([payload], [ExtendDeadline]) == [ExtendDeadline(date(2026, 12, 11), 5)]
