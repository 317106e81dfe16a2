"""A family account as its family manages it: preferences, SEPA mandate, payer, balance."""

from __future__ import annotations

from sqlmodel import Session, select

from domain.ledger import receivable_account
from ville.models.billing import DeliveryChannel, FamilyAccount, LedgerPosting, MandateStatus, Payer


def account(session: Session, account_id: int | None) -> FamilyAccount | None:
    """The family account, or None."""
    return session.get(FamilyAccount, account_id) if account_id is not None else None


def balance_cents(session: Session, account_ref: str) -> int:
    """What the family owes (positive) or is owed (negative), from its receivable's ledger postings."""
    postings = session.exec(select(LedgerPosting).where(LedgerPosting.account == receivable_account(account_ref)))
    return sum(p.debit_cents - p.credit_cents for p in postings)


def payer(session: Session, account_id: int | None) -> Payer | None:
    """The account's payer (name, address, last four IBAN characters)."""
    return session.exec(select(Payer).where(Payer.account_id == account_id)).first()


def set_preferences(session: Session, acc: FamilyAccount, channel: DeliveryChannel, sms_opt_in: bool) -> None:
    """E-mail or post for invoices, and SMS reminders."""
    acc.delivery_channel = channel
    acc.sms_opt_in = sms_opt_in
    session.add(acc)
    session.commit()


def record_mandate(session: Session, acc: FamilyAccount, payment_method_id: str, iban_last4: str | None) -> None:
    """An active SEPA mandate on this payment method; only the IBAN's last four characters are kept."""
    acc.stripe_payment_method_id = payment_method_id
    acc.mandate_status = MandateStatus.active
    acc.sepa_rejections = 0
    session.add(acc)
    holder = payer(session, acc.id)
    if holder is not None and iban_last4:
        holder.iban_last4 = iban_last4[-4:]
        session.add(holder)
    session.commit()


def revoke_mandate(session: Session, acc: FamilyAccount) -> None:
    """The mandate is revoked: later invoices are paid by other means."""
    acc.mandate_status = MandateStatus.revoked
    session.add(acc)
    session.commit()
