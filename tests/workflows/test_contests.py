"""Contests end to end on a skipped clock: escalation, a partial acceptance as a credit note, dunning held back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import col, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment

from activities.contests import contest_credit_key
from contracts.billing import BillingCycleInput, CyclePhase
from contracts.contests import ContestDecisionRequest, LineContestInput
from domain.calendar import PARIS
from domain.contests import ContestReason, ContestStatus
from domain.dunning import InvoiceStatus
from domain.money import format_eur
from domain.payments import PaymentMethod
from domain.periods import period_from_key
from services import contests
from tests.workflows.conftest import BillingWorld, Family, eventually, running_worker, sent_emails
from ville.aws import aws_client
from ville.ids import billing_cycle_id
from ville.models.billing import Invoice, Notification, Payment
from ville.models.contests import InvoiceContest
from ville.models.people import Role, UserAccount
from ville.temporal import SA_BUSINESS_STATUS
from workflows.billing import BillingCycleWorkflow
from workflows.contest_clients import contest_state, decide_contest, start_contest
from workflows.contests import LineContestWorkflow

SEPT = period_from_key("2026-09")
CANTINE = {"cantine": (0, 1, 3, 4)}
CRECHE_AND_CANTINE = {"creche": (0, 1, 2, 3, 4), "cantine": (0, 1, 3, 4)}
ANSWER = "Deux repas facturés pendant l'absence signalée : ils sont déduits."
REFUSAL = "Les repas ont bien été servis selon les pointages de l'école."


async def _until(env: WorkflowEnvironment, iso: str) -> timedelta:
    delta = datetime.fromisoformat(iso).replace(tzinfo=UTC) - await env.get_current_time()
    assert delta > timedelta(0), f"the clock is already past {iso}"
    return delta


async def _issue(client: Client, world: BillingWorld, period_key: str, issue_date: str) -> None:
    await client.start_workflow(
        BillingCycleWorkflow.run,
        BillingCycleInput(period_key, batch_size=3, parallelism=2, issue_date=date.fromisoformat(issue_date)),
        id=billing_cycle_id(period_key),
        task_queue=world.settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
    )

    async def issued() -> bool:
        handle = client.get_workflow_handle_for(BillingCycleWorkflow.run, billing_cycle_id(period_key))
        return (await handle.query(BillingCycleWorkflow.progress)).phase == CyclePhase.AWAITING_DUE_DATE

    await eventually(issued)


async def open_contest(
    env: WorkflowEnvironment, world: BillingWorld, family: Family, codes: list[str]
) -> InvoiceContest:
    """What the API does: record the contest, then start its workflow."""
    today = (await env.get_current_time()).astimezone(PARIS).date()
    with world.sessions() as s:
        invoice = s.exec(select(Invoice).where(Invoice.account_id == family.account_id)).one()
        row = contests.new_contest(s, invoice, codes, ContestReason.CHILD_ABSENT, "Mon fils était malade.", None, today)
    inp = LineContestInput(row.ref, row.invoice_number, row.account_id, dict(row.lines), row.opened_on)
    await start_contest(env.client, world.settings.task_queue, inp)
    return row


def _keys(world: BillingWorld, prefix: str) -> list[str]:
    with world.sessions() as s:
        return list(s.exec(select(Notification.key).where(col(Notification.key).startswith(prefix))).all())


def _contest(world: BillingWorld, ref: str) -> InvoiceContest:
    with world.sessions() as s:
        row = contests.by_ref(s, ref)
        assert row is not None
        return row


def _operator(world: BillingWorld) -> int:
    with world.sessions() as s:
        user = UserAccount(
            email="facturation@ville.example", display_name="Service facturation", role=Role.billing_operator
        )
        s.add(user)
        s.commit()
        assert user.id is not None
        return user.id


async def test_contest_escalated_then_accepted_in_part_with_dunning_held_back(
    billing_world: BillingWorld, billing_env: WorkflowEnvironment
) -> None:
    """Past its deadline a contest is escalated; reminders skip the contested part; a partial acceptance is a
    credit note with a balanced ledger; an invoice contested whole is held from the transfer until the decision."""
    world, client = billing_world, billing_env.client
    mixed = world.add_family("Mixte", CRECHE_AND_CANTINE, SEPT)
    whole = world.add_family("Entiere", CANTINE, SEPT)
    operator_id = _operator(world)
    # moto's mailbox is shared by the session's tests, whose worlds number their invoices alike: read only ours
    earlier = {m["id"] for m in sent_emails(world.settings)}

    async with running_worker(client, world):
        await _issue(client, world, "2026-09", "2026-11-02")
        mixed_contest = await open_contest(billing_env, world, mixed, ["cantine"])
        whole_contest = await open_contest(billing_env, world, whole, ["cantine"])
        mixed_inv, whole_inv = world.invoice_of(mixed, "2026-09"), world.invoice_of(whole, "2026-09")
        assert mixed_contest.ref == f"contest-{mixed_inv.number}-1"
        assert whole_contest.contested_cents == whole_inv.remaining_cents > 0
        await eventually(lambda: len(_keys(world, "contest-opened:")) == 2)

        # the same line cannot be contested twice while the first contest is open
        with world.sessions() as s:
            invoice = s.get_one(Invoice, mixed_inv.id)
            try:
                contests.new_contest(s, invoice, ["cantine"], ContestReason.OTHER, "Encore une fois.", None, SEPT.end)
                raise AssertionError("a second contest of the same line was accepted")
            except ValueError as err:
                assert "déjà en cours" in str(err)

        # due 28/12, first reminder on 07/01: both contests are past their deadline by then
        await billing_env.sleep(await _until(billing_env, "2027-01-07T09:00"))
        await eventually(lambda: world.invoice_of(mixed, "2026-09").status is InvoiceStatus.OVERDUE)
        for row in (mixed_contest, whole_contest):
            state = await contest_state(client, row.ref)
            assert state.reminded and state.escalated and state.status == ContestStatus.ESCALATED
            assert _contest(world, row.ref).status == ContestStatus.ESCALATED
            described = await client.get_workflow_handle(row.ref).describe()
            assert described.typed_search_attributes.get(SA_BUSINESS_STATUS) == ContestStatus.ESCALATED
        assert sorted(_keys(world, "contest-escalated:")) == sorted(
            f"contest-escalated:{r.ref}:{operator_id}" for r in (mixed_contest, whole_contest)
        )
        assert len(_keys(world, "contest-reminder:")) == 2

        # the reminder asks only for the uncontested crèche part; the invoice contested whole gets none
        assert _keys(world, "reminder_email:") == [f"reminder_email:{mixed_inv.number}"]
        assert world.invoice_of(whole, "2026-09").status is InvoiceStatus.ISSUED
        rest = mixed_inv.remaining_cents - mixed_contest.contested_cents
        reminder = [
            str(m.get("body", ""))
            for m in sent_emails(world.settings)
            if m["id"] not in earlier
            if f"Rappel : facture {mixed_inv.number}" in str(m)
        ]
        assert len(reminder) == 1 and f"Reste à payer : {format_eur(rest)}" in reminder[0]

        # a partial acceptance beyond the contested amount is refused by the workflow's validator
        too_much = ContestDecisionRequest("accept_partial", ANSWER, operator_id, {"cantine": 10**7})
        try:
            await decide_contest(client, mixed_contest.ref, too_much)
            raise AssertionError("a decision above the contested amount was accepted")
        except Exception as err:  # WorkflowUpdateFailedError carrying the validator's French message
            assert "Montant accordé" in str(err.__cause__ or err)

        granted = mixed_contest.contested_cents // 2
        result = await decide_contest(
            client,
            mixed_contest.ref,
            ContestDecisionRequest("accept_partial", ANSWER, operator_id, {"cantine": granted}),
        )
        assert result.status == ContestStatus.PARTIALLY_ACCEPTED and result.credited_cents == granted
        ended = await client.get_workflow_handle_for(LineContestWorkflow.run, mixed_contest.ref).result()
        assert ended.status == ContestStatus.PARTIALLY_ACCEPTED and ended.credited_cents == granted
        decided = _contest(world, mixed_contest.ref)
        assert decided.credited == {"cantine": granted} and decided.answer == ANSWER
        assert decided.decided_by == operator_id
        with world.sessions() as s:
            note = s.exec(select(Payment).where(Payment.key == contest_credit_key(mixed_contest.ref))).one()
        assert note.method is PaymentMethod.CREDIT_NOTE and note.amount_cents == granted
        assert world.invoice_of(mixed, "2026-09").paid_cents == granted
        assert _keys(world, "contest-decided:") == [f"contest-decided:{mixed_contest.ref}"]
        world.assert_ledger_consistent()

        # at due+45 the mixed invoice is transferred; the one still under contest is held back whole
        await billing_env.sleep(await _until(billing_env, "2027-02-12T09:00"))
        await eventually(lambda: world.invoice_of(mixed, "2026-09").status is InvoiceStatus.TRANSFERRED)
        assert world.invoice_of(whole, "2026-09").status is InvoiceStatus.ISSUED
        world.assert_ledger_consistent()

        # refused: the held invoice follows the ladder again, transferred after a grace of 10 business days
        await decide_contest(client, whole_contest.ref, ContestDecisionRequest("refuse", REFUSAL, operator_id))
        assert _contest(world, whole_contest.ref).status == ContestStatus.REFUSED
        handle = client.get_workflow_handle_for(LineContestWorkflow.run, whole_contest.ref)
        assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING  # waiting for the grace
        await billing_env.sleep(await _until(billing_env, "2027-03-01T09:00"))
        await eventually(lambda: world.invoice_of(whole, "2026-09").status is InvoiceStatus.TRANSFERRED)
        assert (await handle.result()).status == ContestStatus.REFUSED
        key = f"tresor/2026-09/titres-de-recettes-{whole_inv.number}.csv"
        body = aws_client(world.settings, "s3").get_object(Bucket=world.settings.s3_bucket, Key=key)["Body"].read()
        assert body.decode().splitlines()[1] == f"{whole_inv.number};{whole.ref};{whole_inv.remaining_cents};2026-12-28"
        world.assert_ledger_consistent()
