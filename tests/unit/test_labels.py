"""Every code a person can meet has its own French label (domain.labels), and none is shown raw."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus

from contracts.billing import CyclePhase
from contracts.simulation import SimulationPhase
from domain import labels
from domain.audit.task_states import TaskState
from domain.contests import ContestStatus
from domain.dunning import InvoiceStatus
from domain.payment_plans import PlanStatus
from domain.payments import PaymentMethod
from domain.referral_cases import CaseBusinessStatus, CaseStatus
from domain.referrals import ReferralState
from ville.models.billing import MandateStatus, PaymentStatus
from workflows.registry import WORKFLOWS


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("_"))


TEMPLATES = Path(__file__).resolve().parents[2] / "services" / "templates"
TEMPLATE_NAMES = sorted({p.name.split(".")[0] for p in TEMPLATES.iterdir()})

# the codes that reach a person, each with the table that must name it
KNOWN: list[tuple[str, dict[str, str] | object, list[str]]] = [
    ("invoice status", labels.INVOICE_STATUS, [s.value for s in InvoiceStatus]),
    ("payment status", labels.PAYMENT_STATUS, [s.value for s in PaymentStatus]),
    ("mandate status", labels.MANDATE_STATUS, [s.value for s in MandateStatus]),
    ("payment method", labels.PAYMENT_METHOD, [m.value for m in PaymentMethod]),
    ("workflow type", labels.WORKFLOW_TYPE, [w.__name__ for w in WORKFLOWS]),
    ("execution status", labels.EXECUTION_STATUS, [_camel(s.name) for s in WorkflowExecutionStatus]),
    ("cycle phase", labels.CYCLE_PHASE, [p.value for p in CyclePhase]),
    ("simulation phase", labels.SIMULATION_PHASE, [p.value for p in SimulationPhase]),
    ("task state", labels.TASK_STATE, [s.value for s in TaskState] + ["unassigned"]),
    ("referral state", labels.REFERRAL_STATE, [s.value for s in ReferralState]),
    ("case status", labels.CASE_BUSINESS_STATUS, [s.value for s in CaseBusinessStatus] + [s.value for s in CaseStatus]),
    (
        "business status",
        labels.BUSINESS_STATUS,
        [p.value for p in CyclePhase] + [p.value for p in SimulationPhase] + [s.value for s in CaseBusinessStatus]
        + [s.value for s in TaskState]
        + ["unassigned", "scheduled", "planning", "running", "closing", "results", "reported"]
        + [s.value for s in ContestStatus]
        + [s.value for s in PlanStatus],
    ),
    (
        "journal action",
        labels.JOURNAL_ACTION,
        ["cycle.start", "cycle.start.preview", "cycle.pause", "cycle.resume", "cycle.retry_batches", "cycle.cancel",
         "task.extend_deadline", "task.assign", "referral.escalate", "case.close", "notification.resend",
         "invoice.credit_note", "payment.refund", "simulation.start", "contest.decide", "payment_plan.decide"]
        + [f"payment.counter.{m}" for m in (PaymentMethod.CESU, PaymentMethod.CHEQUE, PaymentMethod.CASH_COUNTER)],
    ),
    ("notification channel", labels.NOTIFICATION_CHANNEL, ["email", "sms", "post"]),
    ("notification template", labels.NOTIFICATION_TEMPLATE, TEMPLATE_NAMES),
    (
        "payment failure",
        labels.PAYMENT_FAILURE,
        ["payment_failed", "card_declined", "insufficient_funds", "expired_card", "incorrect_cvc", "processing_error",
         "generic_decline", "lost_card", "stolen_card", "authentication_required", "do_not_honor"],
    ),
]  # fmt: skip
CODE = re.compile(r"[a-z]+_[a-z_]+|[a-z]+\.[a-z]+|[A-Z][a-z]+[A-Z]\w*Workflow")


@pytest.mark.parametrize(("kind", "table", "codes"), KNOWN, ids=[k[0] for k in KNOWN])
def test_every_known_code_has_its_own_french_label(kind: str, table: dict[str, str], codes: list[str]) -> None:
    missing = [c for c in codes if c not in table]
    assert not missing, f"{kind}: no label for {missing}"
    for code in codes:
        label = table[code]
        assert label and label != code and not CODE.search(label), f"{kind}: {code!r} → {label!r}"


def test_the_payment_workflows_sentences_are_unchanged_and_cover_every_decline_code() -> None:
    assert labels.decline_message("insufficient_funds") == "Paiement refusé : provision insuffisante."
    assert labels.decline_message("expired_card") == "Paiement refusé : la carte a expiré."
    assert labels.decline_message("card_declined").startswith("Votre carte a été refusée par votre banque.")
    assert labels.decline_message("incorrect_cvc") == "Paiement refusé : cryptogramme incorrect."
    assert labels.decline_message("a_code_stripe_adds_next_year") == labels.decline_message("card_declined")


def test_an_unknown_code_reads_as_french_never_as_the_code() -> None:
    for kind, label in labels.FILTERS.items():
        text = label("some_future_code")
        assert text != "some_future_code" and "some_future_code" not in text, kind
        assert label(None) == "—"


def test_filters_accept_the_enum_members_themselves() -> None:
    assert labels.invoice_status(InvoiceStatus.PAID) == "Payée"
    assert labels.payment_status(PaymentStatus.failed) == "Refusé"
    assert labels.journal_action("payment.counter.cheque") == "Chèque enregistré au guichet"
    assert labels.workflow_type("NotificationDeliveryWorkflow") == "Envoi d'une notification"
    assert labels.execution_status("Running") == "En cours"
