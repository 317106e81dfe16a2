"""Billing cycle activities: plan, issue, archive, deliver in batches; SEPA debits; dunning steps."""

from __future__ import annotations

import contextvars
import csv
import functools
import io
import threading
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import structlog
from sqlalchemy import or_, select, update
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from activities.definition import defn
from contracts.billing import (
    BatchRequest,
    BatchTotalsView,
    BillingActivity,
    DunningPlanStep,
    DunningRequest,
    InvoicePaymentInput,
    PlanRequest,
    PlanResult,
)
from documents.invoice import InvoiceDocument, render_invoices, render_many, render_pool
from domain import ledger
from domain.contests import held_back
from domain.due_dates import due_date
from domain.dunning import DunningKind, InvoiceStatus, default_ladder
from domain.money import format_eur
from domain.periods import BillingPeriod, period_from_key
from services import contests, payment_plans
from services.billing import OPEN_STATUSES, BatchTotals, BillingStore, post_entries
from services.invoice_documents import payment_url
from services.notification_log import insert_log_rows
from services.notification_registry import register_still_wanted
from services.notifications import NotificationRequest, Notifier, raise_if_retryable
from services.payer_contacts import PAYER
from ville.ids import invoice_payment_id
from ville.metrics import INVOICES_ISSUED
from ville.models.billing import DeliveryChannel, FamilyAccount, Invoice, MandateStatus
from ville.settings import Settings

log = structlog.get_logger(__name__)
RETENTION_TAG = "retention=archive-5y"


_F = TypeVar("_F", bound=Callable[..., Any])


@register_still_wanted("invoice_reminder")
def _invoices_still_unpaid(s: Any, numbers: set[str]) -> set[str]:
    """A reminder that waited for the family's hours is dropped if its invoice was paid or transferred since."""
    settled = s.execute(
        select(Invoice.number).where(
            Invoice.number.in_(numbers),
            or_(
                Invoice.status.not_in(OPEN_STATUSES),
                Invoice.amount_due_cents - Invoice.previous_unpaid_cents <= Invoice.paid_cents,  # remaining 0
            ),
        )
    )
    return numbers - set(settled.scalars())


def _heartbeating(fn: _F) -> _F:
    """Heartbeat from a side thread while a long batch step runs: the server notices a dead worker in seconds."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = contextvars.copy_context()  # the activity's own context: each beat reaches this attempt
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(5.0):
                ctx.run(activity.heartbeat)

        thread = threading.Thread(target=beat, name="batch-heartbeat", daemon=True)
        thread.start()
        try:
            return fn(*args, **kwargs)
        finally:
            stop.set()
            thread.join()

    return wrapper  # type: ignore[return-value]


def _view(t: BatchTotals) -> BatchTotalsView:
    return BatchTotalsView(
        t.invoices, t.lines_total_cents, t.amount_due_cents, t.already_issued, by_tranche=dict(t.by_tranche)
    )


class BillingActivities:
    """I/O of the billing cycle; each call handles one batch of accounts and is safe to repeat."""

    def __init__(
        self, store: BillingStore, notifier: Notifier, s3: Any, settings: Settings, client: Client | None
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.s3 = s3
        self.settings = settings
        self.client = client

    def _period(self, key: str) -> BillingPeriod:
        return period_from_key(key, self.settings.billing_period_months)

    @defn(name=BillingActivity.PLAN_CYCLE)
    def plan_cycle(self, req: PlanRequest) -> PlanResult:
        """Close the period: batch bounds of the accounts to bill, issue and due dates, dunning dates."""
        period = self._period(req.period_key)
        issue = req.issue_date
        if issue <= period.end:
            raise ApplicationError(
                f"period {period.key} ends on {period.end}: it cannot be billed on {issue}",
                type="PeriodNotClosed",
                non_retryable=True,
            )
        bounds, families = self.store.batch_bounds(period, req.batch_size)
        due = due_date(issue, self.settings.due_day_of_month)
        ladder = [DunningPlanStep(s.kind.value, s.on(due)) for s in default_ladder()]
        log.info("billing.planned", period=period.key, families=families, batches=len(bounds))
        return PlanResult(bounds, families, issue, due, ladder)

    @defn(name=BillingActivity.PREVIEW_BATCH)
    def preview_batch(self, req: BatchRequest) -> BatchTotalsView:
        """Totals a batch would issue (dry run): nothing is written."""
        return _view(self.store.preview_batch(self._period(req.period_key), req.lo, req.hi))

    @defn(name=BillingActivity.ISSUE_BATCH)
    @_heartbeating
    def issue_batch(self, req: BatchRequest) -> BatchTotalsView:
        """Compute, number and store the batch's invoices with their ledger entries (one transaction)."""
        if req.issue_date is None or req.due_date is None:  # the cycle plans the dates before any batch
            raise ApplicationError("a batch is issued with the cycle's dates", type="BatchUndated", non_retryable=True)
        totals = self.store.issue_batch(self._period(req.period_key), req.lo, req.hi, req.issue_date, req.due_date)
        log.info("billing.batch_issued", period=req.period_key, lo=req.lo, hi=req.hi, invoices=totals.invoices)
        INVOICES_ISSUED.inc(totals.invoices)
        return _view(totals)

    @defn(name=BillingActivity.ARCHIVE_BATCH)
    @_heartbeating
    def archive_batch(self, req: BatchRequest) -> BatchTotalsView:
        """Render the batch's invoices and archive them in S3 as one object (5-year retention)."""
        docs = self.store.documents(req.period_key, req.lo, req.hi, self.settings.public_base_url)
        if docs:
            pdfs = render_invoices([doc for _, _, doc in docs], render_pool(self.settings.pdf_render_processes))
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
                for (number, _, _), pdf in zip(docs, pdfs, strict=True):
                    # fixed timestamp: the archive of a batch is byte-identical when a retry rewrites it
                    z.writestr(zipfile.ZipInfo(f"{number}.pdf", (2000, 1, 1, 0, 0, 0)), pdf)
            self.s3.put_object(
                Bucket=self.settings.s3_bucket,
                Key=archive_key(req),
                Body=buf.getvalue(),
                ContentType="application/zip",
                Tagging=RETENTION_TAG,
            )
        return BatchTotalsView(invoices=len(docs))

    @defn(name=BillingActivity.DELIVER_BATCH)
    @_heartbeating
    def deliver_batch(self, req: BatchRequest) -> BatchTotalsView:
        """E-mail the families who chose e-mail; one print file for those who chose post."""
        # the e-mails need a few columns of each invoice, not its lines: only the letters read whole documents
        base_url = self.settings.public_base_url
        emails = [
            NotificationRequest(
                key=f"invoice-issued:{d.number}",
                channel="email",
                template="invoice_issued",
                recipient_kind=PAYER,
                recipient_id=d.account_id,
                subject_ref=d.number,
                context={
                    "number": d.number,
                    "period": d.period_label,
                    "amount": format_eur(d.amount_due_cents),
                    "due_date": d.due_date.strftime("%d/%m/%Y"),
                    "url": payment_url(base_url, d.number),
                },
            )
            for d in self.store.deliveries(req.period_key, req.lo, req.hi)
            if d.channel == DeliveryChannel.email.value
        ]
        outcome = self.notifier.send_many(emails)
        raise_if_retryable(outcome)  # an unreachable person is listed for operators, not retried forever
        letters = self.store.documents(req.period_key, req.lo, req.hi, base_url, DeliveryChannel.post.value)
        if letters:
            self.s3.put_object(
                Bucket=self.settings.s3_bucket,
                Key=f"print/{req.period_key}/batch-{req.lo}-{req.hi}.pdf",
                Body=self._print_file([d for _, _, d in letters]),
                ContentType="application/pdf",
            )
            self._log_letters([n for n, _, _ in letters], "invoice_issued")
        return BatchTotalsView(emails=len(emails), letters=len(letters))

    def _print_file(self, docs: list[InvoiceDocument]) -> bytes:
        # in the rendering pool when there is one: CPU-bound reportlab there leaves this process's GIL free
        pool = render_pool(self.settings.pdf_render_processes)
        return render_many(docs) if pool is None else pool.submit(render_many, docs).result()

    def _log_letters(self, numbers: list[str], template: str) -> None:
        with self.store.sessions() as s, s.begin():
            insert_log_rows(s, [(f"{template}:{n}:post", "post", template, n) for n in numbers], "sent")

    @defn(name=BillingActivity.START_SEPA_DEBITS)
    async def start_sepa_debits(self, period_key: str) -> int:
        """Start the payment workflow of each unpaid invoice whose family has an active SEPA mandate."""
        assert self.client is not None
        rows = self._sepa_invoices(period_key)
        for number, due in rows:
            await self.client.start_workflow(
                "InvoicePaymentWorkflow",
                InvoicePaymentInput(number, sepa_debit_on=due),
                id=invoice_payment_id(number),
                task_queue=self.settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                start_signal="request_sepa_debit",
                start_signal_args=[due],
            )
            activity.heartbeat(number)
        return len(rows)

    def _sepa_invoices(self, period_key: str) -> list[tuple[str, date]]:
        with self.store.sessions() as s:
            return [
                (n, d)
                for n, d in s.execute(
                    select(Invoice.number, Invoice.due_date)
                    .join(FamilyAccount, FamilyAccount.id == Invoice.account_id)
                    .where(
                        Invoice.period_key == period_key,
                        Invoice.status.in_(OPEN_STATUSES),
                        FamilyAccount.mandate_status == MandateStatus.active,
                        Invoice.id.not_in(payment_plans.holding_invoice_ids()),  # a plan debits its instalments
                    )
                )
            ]

    @defn(name=BillingActivity.RUN_DUNNING_STEP)
    def run_dunning_step(self, req: DunningRequest) -> int:
        """Send the period's reminders, or transfer what is still unpaid to the Trésor Public."""
        kind = DunningKind(req.kind)
        if kind is DunningKind.TRANSFER_TRESOR:
            return self._transfer(req.period_key)
        return self._remind(req.period_key, kind)

    def _unpaid(self, s: Any, period_key: str) -> list[tuple[Invoice, FamilyAccount, int]]:
        """Open invoices of the period with what dunning may ask for: the remaining amount less open contests."""
        rows = s.execute(
            select(Invoice, FamilyAccount)
            .join(FamilyAccount, FamilyAccount.id == Invoice.account_id)
            .where(Invoice.period_key == period_key, Invoice.status.in_(OPEN_STATUSES))
            .order_by(Invoice.number)
        ).all()
        unpaid = [(i, a) for i, a in rows if i.remaining_cents > 0]
        held = contests.held_by_invoice(s, [i.id for i, _ in unpaid])
        # a payment plan asked for or kept holds its invoice whole: no reminder, no transfer (its workflow resumes it)
        planned = payment_plans.holding(s, [i.id for i, _ in unpaid])
        return [(i, a, i.remaining_cents if i.id in planned else held.get(i.id, 0)) for i, a in unpaid]

    def _remind(self, period_key: str, kind: DunningKind) -> int:
        with self.store.sessions() as s, s.begin():
            # the contested amount is never reminded: only the uncontested rest, if any
            unpaid = [
                (i, a, asked) for i, a, h in self._unpaid(s, period_key) if (asked := held_back(i.remaining_cents, h))
            ]
            for inv, _, _ in unpaid:
                inv.status = InvoiceStatus.OVERDUE
            s.execute(
                update(Invoice)
                .where(Invoice.id.in_([i.id for i, _, _ in unpaid]))
                .values(reminders_sent=Invoice.reminders_sent + 1)
            )
        requests = []
        for inv, acc, asked in unpaid:
            ctx = {
                "number": inv.number,
                "amount": format_eur(asked),
                "url": f"{self.settings.public_base_url}/famille/factures/{inv.number}",
            }
            requests.append(
                NotificationRequest(
                    f"{kind.value}:{inv.number}", "email", "invoice_reminder", PAYER, acc.id, inv.number, ctx
                )
            )
            if acc.sms_opt_in:
                requests.append(
                    NotificationRequest(
                        f"{kind.value}:{inv.number}:sms", "sms", "invoice_reminder", PAYER, acc.id, inv.number, ctx
                    )
                )
        outcome = self.notifier.send_many(requests)
        raise_if_retryable(outcome)
        log.info("billing.reminded", period=period_key, step=kind.value, invoices=len(unpaid))
        return len(unpaid)

    def _transfer(self, period_key: str) -> int:
        """Export the titres de recettes to S3 and mark the invoices transferred, in one transaction."""
        with self.store.sessions() as s, s.begin():
            # an invoice under an open contest is held back whole (a title is per invoice); its contest's workflow
            # transfers it after the decision if it is still unpaid (activities/contests.py)
            unpaid = [(i, a) for i, a, held in self._unpaid(s, period_key) if not held]
            buf = io.StringIO()
            w = csv.writer(buf, delimiter=";")
            w.writerow(["numero_facture", "compte", "montant_centimes", "date_echeance"])
            for inv, acc in unpaid:
                w.writerow([inv.number, acc.ref, inv.remaining_cents, inv.due_date.isoformat()])
            # written before the commit: if the commit fails, the retry rewrites the same export
            self.s3.put_object(
                Bucket=self.settings.s3_bucket,
                Key=f"tresor/{period_key}/titres-de-recettes.csv",
                Body=buf.getvalue().encode(),
                ContentType="text/csv",
                Tagging=RETENTION_TAG,
            )
            now = datetime.now(UTC)
            entries = [ledger.entry_for_transfer(i.number, a.ref, i.remaining_cents) for i, a in unpaid]
            for inv, _ in unpaid:
                inv.status = InvoiceStatus.TRANSFERRED
                inv.transferred_at = now
            post_entries(s, entries)
        log.info("billing.transferred", period=period_key, invoices=len(unpaid))
        return len(unpaid)


def archive_key(req: BatchRequest) -> str:
    """Where a batch's invoices are archived."""
    return f"invoices/{req.period_key}/batch-{req.lo:08d}-{req.hi:08d}.zip"
