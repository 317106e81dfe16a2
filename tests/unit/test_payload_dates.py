"""Contracts typed `date` travel as the ISO strings they were before (same payload bytes, histories replay)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from temporalio.converter import DataConverter

from contracts.billing import DunningPlanStep, InvoicePaymentInput
from contracts.contests import HeldTransfer
from contracts.delivery import DeliverDueRequest, NotificationDeliveryInput
from ville.temporal import PayloadConverter


@dataclass
class _Before:
    """How DunningPlanStep was typed before (`on: str  # ISO date`)."""

    kind: str
    on: str


def test_a_date_field_writes_the_bytes_its_iso_string_wrote() -> None:
    [typed] = PayloadConverter().to_payloads([DunningPlanStep("reminder_email", date(2027, 3, 1))])
    [before] = DataConverter.default.payload_converter.to_payloads([_Before("reminder_email", "2027-03-01")])
    assert typed == before


def test_iso_strings_read_back_as_dates_and_none_stays_none() -> None:
    converter = PayloadConverter()
    [payload] = DataConverter.default.payload_converter.to_payloads(
        [{"invoice_number": "FF-1", "sepa_debit_on": "2027-03-01"}]
    )
    [inp] = converter.from_payloads([payload], [InvoicePaymentInput])
    assert inp == InvoicePaymentInput("FF-1", date(2027, 3, 1))
    [none] = converter.from_payloads(converter.to_payloads([HeldTransfer("FF-1", None)]), [HeldTransfer])
    assert none == HeldTransfer("FF-1", None)


def test_datetimes_are_untouched() -> None:
    at = datetime(2027, 3, 1, 8, 30, tzinfo=UTC)
    [ours] = PayloadConverter().to_payloads([at])
    assert ours == DataConverter.default.payload_converter.to_payloads([at])[0]
    assert PayloadConverter().from_payloads([ours], [datetime]) == [at]


def test_delivery_instants_write_the_iso_strings_the_workflow_wrote_before() -> None:
    due = datetime(2027, 3, 1, 7, 0, tzinfo=UTC)
    now = datetime(2027, 3, 1, 7, 0, 2, 125000, tzinfo=UTC)
    typed = [NotificationDeliveryInput(due), DeliverDueRequest(due, now, 500)]
    before = [
        {"due_at": "2027-03-01T07:00:00+00:00"},
        {"until": "2027-03-01T07:00:00+00:00", "sent_at": "2027-03-01T07:00:02.125000+00:00", "limit": 500},
    ]
    payloads = PayloadConverter().to_payloads(typed)
    assert payloads == DataConverter.default.payload_converter.to_payloads(before)
    assert PayloadConverter().from_payloads(payloads, [NotificationDeliveryInput, DeliverDueRequest]) == typed
