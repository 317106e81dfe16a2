"""Baseline: the naive shape (one workflow per family, five activities) and each stage alone, same scale.

The naive activities call the same BillingStore / pdf / Notifier code as the real cycle, for ONE account
range (lo = id - 1, hi = id) per call. Run through ``python -m bench.billing_cycle --baseline``.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from temporalio import workflow

from activities.definition import defn

with workflow.unsafe.imports_passed_through():
    import activities.billing  # noqa: F401  (registers the "payer" contact resolver the notifier needs)
    from documents.invoice import render_invoice
    from domain.due_dates import due_date
    from domain.money import format_eur
    from domain.periods import period_from_key
    from services.billing import BillingStore
    from services.notifications import NotificationRequest, Notifier
    from ville.models.billing import DeliveryChannel

NAIVE_TIMEOUT = timedelta(minutes=5)


@dataclass
class NaiveRequest:
    """One family of one period."""

    period_key: str
    account_id: int
    issue_date: str
    due_date: str


class NaiveActivities:
    """compute, persist, render, archive, notify: one family per call."""

    def __init__(self, store: BillingStore, notifier: Notifier, s3: Any, bucket: str, base_url: str) -> None:
        self.store, self.notifier, self.s3, self.bucket, self.base_url = store, notifier, s3, bucket, base_url

    @defn(name="naive_compute")
    def compute(self, r: NaiveRequest) -> int:
        """The family's draft (dry run)."""
        return self.store.preview_batch(period_from_key(r.period_key), r.account_id - 1, r.account_id).invoices

    @defn(name="naive_persist")
    def persist(self, r: NaiveRequest) -> int:
        """Issue the family's invoice."""
        totals = self.store.issue_batch(
            period_from_key(r.period_key),
            r.account_id - 1,
            r.account_id,
            date.fromisoformat(r.issue_date),
            date.fromisoformat(r.due_date),
        )
        return totals.invoices

    @defn(name="naive_render")
    def render(self, r: NaiveRequest) -> bytes:
        """The family's invoice PDF (empty when it has none)."""
        docs = self.store.documents(r.period_key, r.account_id - 1, r.account_id, self.base_url)
        return render_invoice(docs[0][2]) if docs else b""

    @defn(name="naive_archive")
    def archive(self, r: NaiveRequest, pdf: bytes) -> int:
        """One S3 object per invoice."""
        if not pdf:
            return 0
        self.s3.put_object(Bucket=self.bucket, Key=f"naive/{r.period_key}/{r.account_id}.pdf", Body=pdf)
        return 1

    @defn(name="naive_notify")
    def notify(self, r: NaiveRequest) -> int:
        """One e-mail."""
        docs = self.store.documents(r.period_key, r.account_id - 1, r.account_id, self.base_url)
        reqs = [_email(number, r.account_id, doc) for number, ch, doc in docs if ch == DeliveryChannel.email.value]
        return self.notifier.send_many(reqs).sent


def _email(number: str, account_id: int, doc: Any, prefix: str = "invoice-issued") -> NotificationRequest:
    return NotificationRequest(
        key=f"{prefix}:{number}",
        channel="email",
        template="invoice_issued",
        recipient_kind="payer",
        recipient_id=account_id,
        subject_ref=number,
        context={
            "number": number,
            "period": doc.period_label,
            "amount": format_eur(doc.amount_due_cents),
            "due_date": doc.due_date.strftime("%d/%m/%Y"),
            "url": doc.payment_url,
        },
    )


@workflow.defn
class NaiveFamilyWorkflow:
    """The shape the design rejects: one workflow and five activities per family."""

    @workflow.run
    async def run(self, r: NaiveRequest) -> int:
        """compute → persist → render → archive → notify."""
        opts: dict[str, Any] = {"start_to_close_timeout": NAIVE_TIMEOUT}
        await workflow.execute_activity_method(NaiveActivities.compute, r, **opts)
        await workflow.execute_activity_method(NaiveActivities.persist, r, **opts)
        pdf = await workflow.execute_activity_method(NaiveActivities.render, r, **opts)
        await workflow.execute_activity_method(NaiveActivities.archive, args=[r, pdf], **opts)
        return await workflow.execute_activity_method(NaiveActivities.notify, r, **opts)


# --- the run ---------------------------------------------------------------------------------------------


async def run_naive(stack: Any, db_file: Any, families: int, today: date) -> dict[str, Any]:
    """All families' naive workflows on an in-process worker (sandboxed, 16 activity threads)."""
    from temporalio.worker import Worker

    from bench.temporal_counts import history_counts
    from stack.billing_demo import billing_period_to_seed
    from ville.aws import aws_client
    from ville.db import SessionFactory, make_engine
    from ville.temporal import connect

    from .stack import issue_date_for

    settings = stack.settings_for(db_file, "bench-naive")
    period = billing_period_to_seed(today)
    issue = issue_date_for(period)
    due = due_date(issue, settings.due_day_of_month)
    sessions = SessionFactory(make_engine(settings.database_url))
    notifier = Notifier(sessions, aws_client(settings, "ses"), aws_client(settings, "sns"), settings)
    acts = NaiveActivities(
        BillingStore(sessions), notifier, aws_client(settings, "s3"), settings.s3_bucket, settings.public_base_url
    )
    client = await connect(settings)
    ids = list(range(1, families + 1))
    with ThreadPoolExecutor(max_workers=16) as pool:
        async with Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[NaiveFamilyWorkflow],
            activities=[acts.compute, acts.persist, acts.render, acts.archive, acts.notify],
            activity_executor=pool,
            max_concurrent_activities=16,
        ):
            sem = asyncio.Semaphore(200)  # at most 200 families in flight, like a bounded fan-out

            async def one(acc: int) -> int:
                async with sem:
                    return await client.execute_workflow(
                        NaiveFamilyWorkflow.run,
                        NaiveRequest(period.key, acc, issue.isoformat(), due.isoformat()),
                        id=f"naive-{period.key}-{acc}",
                        task_queue=settings.task_queue,
                    )

            t0 = time.perf_counter()
            sent = await asyncio.gather(*(one(a) for a in ids))
            wall = time.perf_counter() - t0
    counts = await history_counts(client, f"naive-{period.key}-1", None)
    return {
        "families": families,
        "emails": sum(sent),
        "wall_s": round(wall, 2),
        "families_per_s": round(families / wall, 2),
        "actions_per_family": counts["actions"],
        "history_events_per_family": counts["events"],
    }


def run_stages(stack: Any, db_file: Any, families: int, today: date) -> dict[str, dict[str, Any]]:
    """Each stage alone, outside Temporal, over the same families."""
    from stack.billing_demo import billing_period_to_seed
    from ville.aws import aws_client
    from ville.db import SessionFactory, make_engine

    from .stack import issue_date_for

    settings = stack.settings_for(db_file, "bench-stages")
    period = billing_period_to_seed(today)
    issue = issue_date_for(period)
    due = due_date(issue, settings.due_day_of_month)
    sessions = SessionFactory(make_engine(settings.database_url))
    store = BillingStore(sessions)
    out: dict[str, dict[str, Any]] = {}

    bounds, _n = store.batch_bounds(period, 500)
    ranges = list(zip([0, *bounds[:-1]], bounds, strict=True))
    t0 = time.perf_counter()
    issued = sum(store.issue_batch(period, lo, hi, issue, due).invoices for lo, hi in ranges)
    out["sql_issue"] = _rate(issued, time.perf_counter() - t0, "invoices (BillingStore.issue_batch, 500/batch)")

    t0 = time.perf_counter()
    docs = [d for lo, hi in ranges for d in store.documents(period.key, lo, hi, settings.public_base_url)]
    out["sql_documents"] = _rate(len(docs), time.perf_counter() - t0, "documents read (BillingStore.documents)")

    t0 = time.perf_counter()
    pdfs = [(number, render_invoice(doc)) for number, _, doc in docs]
    out["pdf_render"] = _rate(len(pdfs), time.perf_counter() - t0, "PDFs (render_invoice, 1 thread)")

    s3 = aws_client(settings, "s3")
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda p: s3.put_object(Bucket=settings.s3_bucket, Key=f"stage/{p[0]}.pdf", Body=p[1]),
                pdfs,
            )
        )
    out["s3_put"] = _rate(len(pdfs), time.perf_counter() - t0, "put_object to moto, 8 threads")

    notifier = Notifier(sessions, aws_client(settings, "ses"), aws_client(settings, "sns"), settings)
    with sessions() as s:
        from sqlalchemy import select
        from sqlmodel import col

        from ville.models.billing import Invoice

        acc_of: dict[str, int] = dict(s.execute(select(col(Invoice.number), col(Invoice.account_id))).tuples().all())
    emails = [(n, acc_of[n], d) for n, ch, d in docs if ch == DeliveryChannel.email.value]
    # the same e-mails twice under other keys: first one SES request per message (the notifier before bulk
    # sending), then as the cycle sends them (50 per SendBulkTemplatedEmail request), 500 per call as a batch
    one_by_one = OneByOneNotifier(sessions, aws_client(settings, "ses"), aws_client(settings, "sns"), settings)
    for name, sender, prefix, what in (
        ("ses_send_single", one_by_one, "stage-single", "Notifier.send_many, one SendEmail per message, 8 threads"),
        ("ses_send", notifier, "invoice-issued", "Notifier.send_many, SendBulkTemplatedEmail of 50, 8 threads"),
    ):
        reqs = [_email(n, acc, d, prefix) for n, acc, d in emails]
        t0 = time.perf_counter()
        sent = sum(sender.send_many(reqs[i : i + 500]).sent for i in range(0, len(reqs), 500))
        out[name] = _rate(sent, time.perf_counter() - t0, what)
    return out


class OneByOneNotifier(Notifier):
    """The notifier as it was before bulk sending: every e-mail in its own SES request."""

    def _split_bulk(self, todo: Any, contacts: Any) -> Any:
        return list(todo), [], []


def _rate(count: int, seconds: float, what: str) -> dict[str, Any]:
    return {"count": count, "seconds": round(seconds, 2), "per_s": round(count / seconds, 1), "what": what}


async def run_baseline(stack: Any, families: int, today: date) -> dict[str, Any]:
    """Seed once, copy the database twice: stages alone, then the naive workflows."""
    from .stack import seed

    template = stack.fresh_db(f"baseline-{families}")
    seed_s = seed(stack.settings_for(template, "unused"), families, today)
    stages = run_stages(stack, stack.fresh_db("stages", template), families, today)
    naive = await run_naive(stack, stack.fresh_db("naive", template), families, today)
    return {"families": families, "seed_s": round(seed_s, 2), "stages": stages, "naive": naive}


def baseline_rows(b: dict[str, Any]) -> list[tuple[str, str]]:
    """Printable rows."""
    n = b["naive"]
    rows = [
        (
            f"naive workflows ({b['families']} families)",
            f"{n['families_per_s']} families/s, {n['wall_s']} s, {n['actions_per_family']} actions/family",
        )
    ]
    for name, st in b["stages"].items():
        rows.append((f"stage alone: {name}", f"{st['per_s']}/s ({st['count']} in {st['seconds']} s; {st['what']})"))
    return rows
