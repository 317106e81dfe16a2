"""One writer per invoice: truly concurrent money requests over HTTP never allocate more than the rules allow.

Each test runs on the database the `DB` switch names (`make test` runs both SQLite and PostgreSQL), against the
real API (uvicorn) whose sync work runs in threads: the requests leave their own threads together (a barrier) and
overlap in the server. Defects of issue 16 covered:
1 (two cheques both settled), 2 (a key reused with other content), 6 (credit-note bounds, strict numbers).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import stripe
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from tests.conftest import Databases
from tests.workflows.conftest import BillingWorld, Family, serve_api
from tests.workflows.money_world import (
    credit_account_balance,
    entry_count,
    issue_all,
    make_world,
    money_of,
    operator_token,
    revenue_accounts,
    send_together,
)
from tests.workflows.test_billing_cycle import CRECHE_AND_CANTINE, SEPT
from ville.models.billing import Invoice, InvoiceLine, Payment
from ville.settings import Settings

N = 6  # concurrent requests per test: the API's thread pool runs about as many at once on 2 cores


@dataclass
class Stack:
    """Two families with an issued invoice each (new for each test), the API serving their database, a token."""

    world: BillingWorld
    base: str
    token: str
    alpha: Family = field(init=False)
    beta: Family = field(init=False)

    def billed_pair(self) -> Stack:
        """Two new families, billed for September."""
        n = len(self.world.families)
        self.alpha = self.world.add_family(f"Alpha{n}", CRECHE_AND_CANTINE, SEPT)
        self.beta = self.world.add_family(f"Beta{n}", CRECHE_AND_CANTINE, SEPT)
        issue_all(self.world, SEPT)
        return self

    def invoice(self, family: Family) -> Invoice:
        """The family's September invoice, as stored now."""
        return self.world.invoice_of(family, SEPT.key)

    def line_total(self, family: Family, activity: str) -> int:
        """What the invoice bills for one activity."""
        with self.world.sessions() as s:
            return sum(
                s.execute(
                    select(InvoiceLine.amount_cents).where(
                        InvoiceLine.invoice_id == self.invoice(family).id, InvoiceLine.activity_code == activity
                    )
                ).scalars()
            )

    def counter(self, family: Family) -> str:
        """The counter-payment route of the family's invoice."""
        return f"/api/billing/invoices/{self.invoice(family).number}/counter-payments"

    def avoirs(self, family: Family) -> str:
        """The credit-note route of the family's invoice."""
        return f"/api/billing/invoices/{self.invoice(family).number}/credit-notes"


@pytest.fixture(scope="module")
def served(
    settings: Settings, stripe_client: stripe.StripeClient, local_env: WorkflowEnvironment, databases: Databases
) -> Iterator[Stack]:
    """A fresh database (SQLite, or PostgreSQL with DB=postgresql) and the API on it, for the module (each test
    bills its own families)."""
    url = databases.create("money")
    world = make_world(url, settings, stripe_client)
    try:
        with serve_api(world, local_env) as base:
            yield Stack(world, base, operator_token(world))
    finally:
        world.engine.dispose()
        databases.drop(url)


@pytest.fixture
def stack(served: Stack) -> Stack:
    """Two new families with their September invoices on the served database."""
    return served.billed_pair()


def _bounded(stack: Stack, family: Family) -> None:
    """The invariant: allocations == paid <= own due, the family's credit never owed by it, ledger balanced."""
    inv = stack.invoice(family)
    m = money_of(stack.world, inv.number, family.ref)
    assert m.allocated_cents == m.paid_cents <= m.own_due_cents, m
    assert credit_account_balance(stack.world, family.ref) <= 0
    stack.world.assert_ledger_consistent()


def test_concurrent_cheques_for_the_whole_amount_settle_the_invoice_once(stack: Stack) -> None:
    """Defect 1: N cheques of the amount due at once: one is recorded, the others are refused (invoice paid)."""
    inv = stack.invoice(stack.alpha)
    due = inv.amount_due_cents
    answers = send_together(
        stack.base,
        stack.token,
        [
            (
                stack.counter(stack.alpha),
                {"key": f"cheque-{i:04d}", "method": "cheque", "amount_cents": due, "reference": f"CHQ-{i}"},
            )
            for i in range(N)
        ],
    )
    assert sorted(a.status for a in answers) == [201] + [422] * (N - 1), answers
    m = money_of(stack.world, inv.number, stack.alpha.ref, "payment.counter")
    assert m.succeeded_payments == 1 and m.allocated_cents == m.paid_cents == due
    assert m.credit_cents == 0 and m.journal_lines == 1
    _bounded(stack, stack.alpha)


def test_concurrent_partial_payments_keep_the_small_excess_as_credit_and_refuse_the_rest(stack: Stack) -> None:
    """Cash payments of a third (+1 cent) at once: three go through, the third's cents become credit."""
    inv = stack.invoice(stack.alpha)
    due = inv.amount_due_cents
    part = due // 3 + 1
    answers = send_together(
        stack.base,
        stack.token,
        [
            (stack.counter(stack.alpha), {"key": f"cash-{i:04d}", "method": "cash_counter", "amount_cents": part})
            for i in range(N)
        ],
    )
    assert sorted(a.status for a in answers) == [201] * 3 + [422] * (N - 3), answers
    m = money_of(stack.world, inv.number, stack.alpha.ref)
    assert m.succeeded_payments == 3 and m.paid_cents == due
    assert m.credit_cents == 3 * part - due > 0  # booked in the ledger as the family's credit
    _bounded(stack, stack.alpha)


def test_concurrent_credit_notes_stay_within_the_line(stack: Stack) -> None:
    """Credit notes of half the canteen line at once: exactly two fit the line, the others name the field."""
    canteen = stack.line_total(stack.alpha, "cantine")
    half = canteen // 2
    answers = send_together(
        stack.base,
        stack.token,
        [
            (
                stack.avoirs(stack.alpha),
                {"key": f"avoir-{i:04d}", "amounts_by_activity": {"cantine": half}, "reason": "Cantine fermée"},
            )
            for i in range(N)
        ],
    )
    assert sorted(a.status for a in answers) == [201] * 2 + [422] * (N - 2), answers
    refused = next(a for a in answers if a.status == 422)
    assert refused.body["error"]["fields"][0]["field"] == "body.amounts_by_activity.cantine"
    m = money_of(stack.world, stack.invoice(stack.alpha).number, stack.alpha.ref, "invoice.credit_note")
    assert m.paid_cents == 2 * half <= canteen and m.journal_lines == 2
    _bounded(stack, stack.alpha)


def test_concurrent_refunds_never_give_back_more_than_was_paid(stack: Stack) -> None:
    """Refunds of a third (+1 cent) of a cheque at once: exactly two fit; the invoice is due again by them."""
    due = stack.invoice(stack.alpha).amount_due_cents
    paid = send_together(
        stack.base,
        stack.token,
        [(stack.counter(stack.alpha), {"key": "cheque-refund-1", "method": "cheque", "amount_cents": due})],
    )
    assert paid[0].status == 201, paid
    with stack.world.sessions() as s:
        payment_id = s.execute(select(Payment.id).where(Payment.key == "counter:cheque-refund-1")).scalar_one()
    part = due // 3 + 1
    answers = send_together(
        stack.base,
        stack.token,
        [
            (
                f"/api/billing/payments/{payment_id}/refund",
                {"key": f"refund-{i:04d}", "amount_cents": part, "reason": "Trop perçu"},
            )
            for i in range(N)
        ],
    )
    assert sorted(a.status for a in answers) == [201] * 2 + [422] * (N - 2), answers
    with stack.world.sessions() as s:
        assert s.get_one(Payment, payment_id).refunded_cents == 2 * part <= due
    assert money_of(stack.world, stack.invoice(stack.alpha).number, stack.alpha.ref).paid_cents == due - 2 * part
    _bounded(stack, stack.alpha)


def test_every_money_route_at_once_on_one_invoice(stack: Stack) -> None:
    """Cheques, cash, CESU-less credit notes and a refund racing on one invoice: the bounds hold together."""
    inv = stack.invoice(stack.alpha)
    due = inv.amount_due_cents
    first = send_together(
        stack.base,
        stack.token,
        [(stack.counter(stack.alpha), {"key": "mix-first", "method": "cheque", "amount_cents": due // 4})],
    )
    assert first[0].status == 201
    with stack.world.sessions() as s:
        payment_id = s.execute(select(Payment.id).where(Payment.key == "counter:mix-first")).scalar_one()
    canteen = stack.line_total(stack.alpha, "cantine")
    requests = [
        (stack.counter(stack.alpha), {"key": "mix-cheque-1", "method": "cheque", "amount_cents": due}),
        (stack.counter(stack.alpha), {"key": "mix-cash-1", "method": "cash_counter", "amount_cents": due // 2}),
        (
            stack.avoirs(stack.alpha),
            {"key": "mix-avoir-1", "amounts_by_activity": {"cantine": canteen // 2}, "reason": "Grève"},
        ),
        (
            stack.avoirs(stack.alpha),
            {"key": "mix-avoir-2", "amounts_by_activity": {"cantine": canteen // 2}, "reason": "Grève"},
        ),
        (
            f"/api/billing/payments/{payment_id}/refund",
            {"key": "mix-refund-1", "amount_cents": due // 4, "reason": "Erreur"},
        ),
        (
            f"/api/billing/payments/{payment_id}/refund",
            {"key": "mix-refund-2", "amount_cents": due // 4, "reason": "Erreur"},
        ),
    ]
    answers = send_together(stack.base, stack.token, requests)
    assert all(a.status in (201, 409, 422) for a in answers), answers
    refunds = [a for a in answers[4:] if a.status == 201]
    assert len(refunds) == 1  # one quarter paid, one quarter refunded at most
    _bounded(stack, stack.alpha)


def test_an_idempotency_key_is_bound_to_its_content(stack: Stack) -> None:
    """Defect 2: the same key with another invoice, amount or method is 409 and journals nothing."""
    a, b = stack.invoice(stack.alpha), stack.invoice(stack.beta)
    cheque = {"key": "CHQ-SEC-1-key", "method": "cheque", "amount_cents": a.amount_due_cents, "reference": "CHQ-1"}
    first = send_together(stack.base, stack.token, [(stack.counter(stack.alpha), cheque)])
    assert first[0].status == 201
    other = {"key": "CHQ-SEC-1-key", "method": "cash_counter", "amount_cents": 1_234, "reference": "CHQ-1"}
    answers = send_together(
        stack.base,
        stack.token,
        [(stack.counter(stack.beta), other), (stack.counter(stack.alpha), {**cheque, "amount_cents": 1_234})],
    )
    assert [x.status for x in answers] == [409, 409], answers
    assert "clé" in answers[0].body["error"]["message"]
    assert money_of(stack.world, b.number, stack.beta.ref).paid_cents == 0
    assert money_of(stack.world, b.number, stack.beta.ref, "payment").journal_lines == 0
    replay = send_together(stack.base, stack.token, [(stack.counter(stack.alpha), cheque)])
    assert replay[0].status == 201 and replay[0].body["number"] == a.number
    m = money_of(stack.world, a.number, stack.alpha.ref, "payment.counter")
    assert m.succeeded_payments == 1 and m.journal_lines == 1

    note = {"key": "avoir-key-1", "amounts_by_activity": {"cantine": 100}, "reason": "Geste"}
    assert send_together(stack.base, stack.token, [(stack.avoirs(stack.beta), note)])[0].status == 201
    reused = send_together(
        stack.base,
        stack.token,
        [
            (stack.avoirs(stack.beta), {**note, "amounts_by_activity": {"cantine": 200}}),
            (stack.avoirs(stack.alpha), note),
        ],
    )
    assert [x.status for x in reused] == [409, 409], reused
    assert money_of(stack.world, b.number, stack.beta.ref, "invoice.credit_note").journal_lines == 1

    with stack.world.sessions() as s:
        payment_id = s.execute(select(Payment.id).where(Payment.key == "counter:CHQ-SEC-1-key")).scalar_one()
    refund = f"/api/billing/payments/{payment_id}/refund"
    body = {"key": "refund-key-1", "amount_cents": 100, "reason": "Erreur"}
    assert send_together(stack.base, stack.token, [(refund, body)])[0].status == 201
    again = send_together(stack.base, stack.token, [(refund, body), (refund, {**body, "amount_cents": 200})])
    assert sorted(x.status for x in again) == [201, 409], again
    with stack.world.sessions() as s:
        assert s.get_one(Payment, payment_id).refunded_cents == 100
    stack.world.assert_ledger_consistent()


def test_credit_notes_and_money_bodies_are_bounded_and_strict(stack: Stack) -> None:
    """Defect 6: an activity not on the invoice, an amount above its line, a number sent as a string: 422."""
    canteen = stack.line_total(stack.alpha, "cantine")
    entries, revenue = entry_count(stack.world), revenue_accounts(stack.world)
    with_reason = {"reason": "Geste commercial"}
    cases = [
        (
            stack.avoirs(stack.alpha),
            {"key": "bad-avoir-1", "amounts_by_activity": {"revenue:activite_inexistante'; --": 100}, **with_reason},
        ),
        (
            stack.avoirs(stack.alpha),
            {"key": "bad-avoir-2", "amounts_by_activity": {"conservatoire": 100}, **with_reason},
        ),
        (
            stack.avoirs(stack.alpha),
            {"key": "bad-avoir-3", "amounts_by_activity": {"cantine": canteen + 1}, **with_reason},
        ),
        (stack.avoirs(stack.alpha), {"key": "bad-avoir-4", "amounts_by_activity": {"cantine": "100"}, **with_reason}),
        (stack.counter(stack.alpha), {"key": "bad-cheque-1", "method": "cheque", "amount_cents": "100"}),
        (stack.counter(stack.alpha), {"key": "bad-cheque-2", "method": "cheque", "amount_cents": 100.5}),
        (stack.counter(stack.alpha), {"key": "bad-cheque-3", "method": "cheque", "amount_cents": -100}),
        ("/api/billing/payments/1/refund", {"key": "bad-refund-1", "amount_cents": "100", **with_reason}),
    ]
    answers = send_together(stack.base, stack.token, cases)
    assert [a.status for a in answers] == [422] * len(cases), answers
    fields = [" ".join(f["field"] for f in a.body["error"]["fields"]) for a in answers]
    assert "body.amounts_by_activity.conservatoire" in fields[1]
    assert "body.amounts_by_activity.cantine" in fields[2]
    assert all("amount" in f for f in fields), fields
    assert entry_count(stack.world) == entries and revenue_accounts(stack.world) == revenue
    assert money_of(stack.world, stack.invoice(stack.alpha).number, stack.alpha.ref).paid_cents == 0
