"""Database work of the billing cycle, set-based: one SQL aggregation and one transaction per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from documents.invoice import InvoiceDocument
from domain import ledger
from domain.dunning import PAYABLE_STATUSES, status_after_payment
from domain.invoicing import (
    AttendanceItem,
    FamilySnapshot,
    InvoiceDraft,
    RegistrationSpan,
    compute_invoice,
    is_registered,
)
from domain.numbering import assign_numbers
from domain.periods import BillingPeriod
from domain.tariffs import TariffGrid, load_grids, tranche_for_period
from services.invoice_documents import Delivery, batch_deliveries, batch_documents, invoice_document
from services.money_guard import lock_accounts_range
from ville.db import SessionFactory, refresh_statistics
from ville.models.billing import (
    Attendance,
    Child,
    FamilyAccount,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    LedgerEntry,
    LedgerPosting,
    Registration,
    TariffGridVersion,
)

OPEN_STATUSES = tuple(sorted(PAYABLE_STATUSES))


@dataclass(frozen=True)
class BatchTotals:
    """What one batch issued (or would issue, in a dry run)."""

    invoices: int
    lines_total_cents: int
    amount_due_cents: int
    already_issued: int
    by_tranche: dict[int, int]


def load_tariff_grids(session: Session) -> list[TariffGrid]:
    """The voted grids, from the database."""
    rows = session.execute(select(TariffGridVersion.data)).scalars().all()
    return load_grids(list(rows))


def post_entries(session: Session, entries: Sequence[ledger.JournalEntry]) -> None:
    """Insert balanced journal entries (their unique keys make a replay fail instead of doubling)."""
    if not entries:
        return
    now = datetime.now(UTC)
    ids = (
        session.execute(
            insert(LedgerEntry).returning(LedgerEntry.id, sort_by_parameter_order=True),
            [{"key": e.key, "kind": e.kind.value, "created_at": now} for e in entries],
        )
        .scalars()
        .all()
    )
    session.execute(
        insert(LedgerPosting),
        [
            {"entry_id": eid, "account": p.account, "debit_cents": p.debit_cents, "credit_cents": p.credit_cents}
            for eid, e in zip(ids, entries, strict=True)
            for p in e.postings
        ],
    )


def credit_balances(session: Session, refs: Iterable[str]) -> dict[str, int]:
    """Credit owed to each family (positive), from the ledger's `credit:<ref>` accounts."""
    accounts = {ledger.credit_account(r): r for r in refs}
    if not accounts:
        return {}
    rows = session.execute(
        select(LedgerPosting.account, func.sum(LedgerPosting.credit_cents - LedgerPosting.debit_cents))
        .where(LedgerPosting.account.in_(accounts))
        .group_by(LedgerPosting.account)
    ).all()
    return {accounts[a]: int(v or 0) for a, v in rows}


class BillingStore:
    """Set-based reads and writes of the cycle; every write is idempotent by unique constraints."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions

    # --- planning -------------------------------------------------------------------------------

    def batch_bounds(self, period: BillingPeriod, batch_size: int) -> tuple[list[int], int]:
        """Upper account ids of consecutive batches of accounts to bill, and how many accounts in all."""
        refresh_statistics(self.sessions.engine, "attendance", "invoice", "family_account")  # the period's imports
        with self.sessions() as s:
            with_items = select(Attendance.account_id).where(
                Attendance.invoice_id.is_(None),
                Attendance.day <= period.end,
            )
            with_debt = select(Invoice.account_id).where(
                Invoice.status.in_(OPEN_STATUSES),
                Invoice.period_key != period.key,
            )
            ids = sorted(set(s.execute(with_items.distinct()).scalars()) | set(s.execute(with_debt).scalars()))
        bounds = [ids[min(i + batch_size, len(ids)) - 1] for i in range(0, len(ids), batch_size)]
        return bounds, len(ids)

    # --- issue ----------------------------------------------------------------------------------

    def compute_batch(
        self, s: Session, period: BillingPeriod, lo: int, hi: int, grids: Sequence[TariffGrid] | None = None
    ) -> tuple[list[tuple[Any, InvoiceDraft]], int]:
        """Drafts for accounts lo < id <= hi that have no invoice for the period yet (`grids`: the voted ones)."""
        accounts = s.execute(
            select(
                FamilyAccount.id,
                FamilyAccount.ref,
                FamilyAccount.qf_cents,
                FamilyAccount.qf_valid_until,
                FamilyAccount.delivery_channel,
            )
            .where(FamilyAccount.id > lo, FamilyAccount.id <= hi)
            .order_by(FamilyAccount.id)
        ).all()
        issued = set(
            s.execute(
                select(Invoice.account_id).where(
                    Invoice.period_key == period.key,
                    Invoice.account_id > lo,
                    Invoice.account_id <= hi,
                )
            ).scalars()
        )
        items = _attendance_items(s, lo, hi, Attendance.invoice_id.is_(None), Attendance.day <= period.end)
        unpaid: dict[int, int] = defaultdict(int)
        for acc, due, paid, prev in s.execute(
            select(
                Invoice.account_id, Invoice.amount_due_cents, Invoice.paid_cents, Invoice.previous_unpaid_cents
            ).where(
                Invoice.account_id > lo,
                Invoice.account_id <= hi,
                Invoice.status.in_(OPEN_STATUSES),
                Invoice.period_key != period.key,
            )
        ):
            unpaid[acc] += max(0, due - prev - paid)
        credits = credit_balances(s, [a.ref for a in accounts])
        grids = load_tariff_grids(s) if grids is None else grids
        drafts = []
        for acc in accounts:
            if acc.id in issued:
                continue
            tranche = tranche_for_period(acc.qf_cents, acc.qf_valid_until, period.start)
            family = FamilySnapshot(acc.ref, tranche, unpaid.get(acc.id, 0), credits.get(acc.ref, 0))
            draft = compute_invoice(period, family, items.get(acc.id, ()), grids)
            if not draft.is_empty:
                drafts.append((acc, draft))
        return drafts, len(issued)

    def preview_batch(
        self, period: BillingPeriod, lo: int, hi: int, grids: Sequence[TariffGrid] | None = None
    ) -> BatchTotals:
        """Totals the batch would issue (with other grids if given), writing nothing."""
        with self.sessions() as s:
            drafts, already = self.compute_batch(s, period, lo, hi, grids)
        return _totals(drafts, already)

    def reprice_issued(
        self, period: BillingPeriod, lo: int, hi: int, proposed: Sequence[TariffGrid]
    ) -> dict[int, tuple[int, InvoiceDraft, InvoiceDraft]]:
        """Price again the items billed on the period's invoices, with the voted grids and with `proposed`.

        Accounts lo < id <= hi with an invoice for the period; each keeps its invoice's tranche, so the voted
        grids reproduce the invoice's lines, and only the items they billed are priced with `proposed`.
        Returns {account id: (tranche, voted draft, proposed draft)}: a dry run through the cycle's own
        `compute_invoice`; nothing is written.
        """
        with self.sessions() as s:
            invoices = s.execute(
                select(Invoice.account_id, FamilyAccount.ref, Invoice.tranche)
                .join(FamilyAccount, FamilyAccount.id == Invoice.account_id)
                .where(Invoice.period_key == period.key, Invoice.account_id > lo, Invoice.account_id <= hi)
                .order_by(Invoice.account_id)
            ).all()
            billed = select(Invoice.id).where(
                Invoice.period_key == period.key, Invoice.account_id > lo, Invoice.account_id <= hi
            )
            items = _attendance_items(s, lo, hi, Attendance.invoice_id.in_(billed))
            voted = load_tariff_grids(s)
        out: dict[int, tuple[int, InvoiceDraft, InvoiceDraft]] = {}
        for acc_id, ref, tranche in invoices:
            family = FamilySnapshot(ref, tranche)
            mine = items.get(acc_id, [])
            old = compute_invoice(period, family, mine, voted)
            left_out = {id(r.item) for r in old.rejected_items}
            billable = [it for it in mine if id(it) not in left_out]
            out[acc_id] = (tranche, old, compute_invoice(period, family, billable, proposed))
        return out

    def issue_batch(self, period: BillingPeriod, lo: int, hi: int, issue_date: date, due: date) -> BatchTotals:
        """Issue the batch's invoices in one transaction: numbers, lines, ledger, attendance marked billed."""
        with self.sessions() as s, s.begin():
            # the batch's money locks first: the credit it applies is read after every refund or payment of its
            # families committed, and none commits before the invoices do (services/money_guard.py)
            lock_accounts_range(s, lo, hi)
            drafts, already = self.compute_batch(s, period, lo, hi)
            if drafts:
                numbers = self._take_numbers(s, issue_date.year, len(drafts))
                self._write_invoices(s, period, drafts, numbers, issue_date, due)
        return _totals(drafts, already)

    @staticmethod
    def _take_numbers(s: Session, year: int, count: int) -> list[str]:
        # The counter moves in the same transaction as the invoices: a rollback gives the numbers back,
        # so the sequence stays gapless; the row update serialises concurrent batches. One upsert: on
        # PostgreSQL two first batches of a year (UPDATE found no row, then both INSERT) raced into a unique
        # violation (found by tests/chaos on PostgreSQL); the conflict clause waits for the other and adds.
        upsert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
        updated = s.execute(
            upsert(InvoiceCounter)
            .values(year=year, next_seq=1 + count)
            .on_conflict_do_update(index_elements=["year"], set_={"next_seq": InvoiceCounter.next_seq + count})
            .returning(InvoiceCounter.next_seq)
        ).scalar_one()
        return assign_numbers(year, updated - count, count)

    @staticmethod
    def _write_invoices(
        s: Session,
        period: BillingPeriod,
        drafts: list[tuple[Any, InvoiceDraft]],
        numbers: list[str],
        issue_date: date,
        due: date,
    ) -> None:
        now = datetime.now(UTC)
        invoice_rows = [
            {
                "number": number,
                "account_id": acc.id,
                "period_key": period.key,
                "period_start": period.start,
                "period_end": period.end,
                "issue_date": issue_date,
                "due_date": due,
                "tranche": d.tranche,
                "lines_total_cents": d.lines_total_cents,
                "previous_unpaid_cents": d.previous_unpaid_cents,
                "credit_applied_cents": d.credit_applied_cents,
                "amount_due_cents": d.amount_due_cents,
                "paid_cents": 0,
                # an invoice whose own charges are covered by credit is settled at once
                "status": status_after_payment(max(0, d.amount_due_cents - d.previous_unpaid_cents), 0),
                "delivery_channel": acc.delivery_channel,
                "reminders_sent": 0,
                "created_at": now,
            }
            for (acc, d), number in zip(drafts, numbers, strict=True)
        ]
        ids = (
            s.execute(
                insert(Invoice).returning(Invoice.id, sort_by_parameter_order=True),
                invoice_rows,
            )
            .scalars()
            .all()
        )
        s.execute(
            insert(InvoiceLine),
            [
                {
                    "invoice_id": iid,
                    "child_ref": ln.child_ref,
                    "child_first_name": ln.child_first_name,
                    "activity_code": ln.activity_code,
                    "label": ln.label,
                    "quantity": ln.quantity,
                    "unit_price_cents": ln.unit_price_cents,
                    "amount_cents": ln.amount_cents,
                }
                for iid, (_, d) in zip(ids, drafts, strict=True)
                for ln in d.lines
            ],
        )
        entries: list[ledger.JournalEntry] = []
        for number, (acc, d) in zip(numbers, drafts, strict=True):
            by_activity = d.lines_by_activity()
            if any(by_activity.values()):
                entries.append(ledger.entry_for_invoice(number, acc.ref, by_activity))
            if d.credit_applied_cents:
                entries.append(ledger.entry_for_credit_application(number, acc.ref, d.credit_applied_cents))
        post_entries(s, entries)
        by_account = [{"inv": iid, "acc": acc.id} for iid, (acc, _) in zip(ids, drafts, strict=True)]
        attendance, invoice = Attendance.__table__, Invoice.__table__  # Core tables: executemany updates
        s.execute(
            attendance.update()
            .where(
                attendance.c.account_id == bindparam("acc"),
                attendance.c.invoice_id.is_(None),
                attendance.c.day <= period.end,
            )
            .values(invoice_id=bindparam("inv")),
            by_account,
        )
        s.execute(
            invoice.update()
            .where(
                invoice.c.account_id == bindparam("acc"),
                or_(*(invoice.c.status == st for st in OPEN_STATUSES)),  # `in_` cannot expand in executemany
                invoice.c.id != bindparam("inv"),
                invoice.c.recalled_on_invoice_id.is_(None),
            )
            .values(recalled_on_invoice_id=bindparam("inv")),
            by_account,
        )

    # --- documents ------------------------------------------------------------------------------

    def documents(
        self, period_key: str, lo: int, hi: int, base_url: str, channel: str | None = None
    ) -> list[tuple[str, str, InvoiceDocument]]:
        """(number, delivery channel, document) of the batch's invoices (only `channel`'s if given), by number."""
        with self.sessions() as s:
            return batch_documents(s, period_key, lo, hi, base_url, channel)

    def deliveries(self, period_key: str, lo: int, hi: int) -> list[Delivery]:
        """The batch's invoices as their e-mails need them (no lines), in number order."""
        with self.sessions() as s:
            return batch_deliveries(s, period_key, lo, hi)

    def document(self, number: str, base_url: str) -> InvoiceDocument | None:
        """The document of one invoice (rendered on demand from its immutable data)."""
        with self.sessions() as s:
            return invoice_document(s, number, base_url)


def _attendance_items(s: Session, lo: int, hi: int, *where: Any) -> dict[int, list[AttendanceItem]]:
    """Attendance items of accounts lo < id <= hi matching `where`, by account id.

    Whether an item was registered is decided from the children's registrations (read for the same batch),
    never from the attendance feed's flag: see `domain.invoicing.is_registered`.
    """
    # by (child, activity): an attendance is compared with its own activity's registrations only
    registrations: dict[tuple[int, str], list[RegistrationSpan]] = defaultdict(list)
    for child_id, code, start, end in s.execute(
        select(Registration.child_id, Registration.activity_code, Registration.start, Registration.end)
        .join(Child, Child.id == Registration.child_id)
        .where(Child.account_id > lo, Child.account_id <= hi)
    ):
        registrations[(child_id, code)].append(RegistrationSpan(code, start, end))
    items: dict[int, list[AttendanceItem]] = defaultdict(list)
    rows = s.execute(
        select(
            Attendance.account_id,
            Attendance.child_id,
            Child.ref,
            Child.first_name,
            Attendance.activity_code,
            Attendance.day,
        )
        .join(Child, Child.id == Attendance.child_id)
        .where(Attendance.account_id > lo, Attendance.account_id <= hi, *where)
    )
    for acc, child_id, cref, cname, code, day in rows:
        registered = is_registered(registrations.get((child_id, code), ()), code, day)
        items[acc].append(AttendanceItem(cref, cname, code, day, registered))
    return items


def _totals(drafts: list[tuple[Any, InvoiceDraft]], already: int) -> BatchTotals:
    by_tranche: dict[int, int] = defaultdict(int)
    for _, d in drafts:
        by_tranche[d.tranche] += d.lines_total_cents
    return BatchTotals(
        invoices=len(drafts),
        lines_total_cents=sum(d.lines_total_cents for _, d in drafts),
        amount_due_cents=sum(d.amount_due_cents for _, d in drafts),
        already_issued=already,
        by_tranche=dict(by_tranche),
    )
