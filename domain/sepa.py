"""SEPA direct debit rules: mandate state after debit results, debit date, result window."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from domain.calendar import add_business_days, next_business_day_on_or_after

MAX_CONSECUTIVE_REJECTIONS = 2
RESULT_WINDOW_BUSINESS_DAYS = 14


class MandateStatus(StrEnum):
    """The account's SEPA mandate, from set-up to suspension (two rejections) or revocation.

    Member names are the database's enum labels (SQLAlchemy stores names): lower case on purpose.
    """

    none = "none"
    pending = "pending"
    active = "active"  # invoices are collected by direct debit
    suspended = "suspended"  # two rejections: the family pays by other means (card, CESU, cheque, counter)
    revoked = "revoked"


@dataclass(frozen=True, slots=True)
class SepaState:
    """State of a family's SEPA mandate."""

    mandate_ref: str
    status: MandateStatus = MandateStatus.active
    consecutive_rejections: int = 0

    @property
    def is_active(self) -> bool:
        """True if the next invoice may be debited."""
        return self.status is MandateStatus.active


def after_debit_result(state: SepaState, success: bool, max_rejections: int = MAX_CONSECUTIVE_REJECTIONS) -> SepaState:
    """New state after a debit result: success resets the count; the 2nd rejection in a row suspends."""
    if not state.is_active:
        raise ValueError(f"mandate {state.mandate_ref} is suspended: no debit result expected")
    if success:
        return replace(state, consecutive_rejections=0)
    rejections = state.consecutive_rejections + 1
    status = MandateStatus.suspended if rejections >= max_rejections else MandateStatus.active
    return replace(state, status=status, consecutive_rejections=rejections)


def debit_date(due: date) -> date:
    """The debit is presented on the due date, or the next business day."""
    return next_business_day_on_or_after(due)


def result_deadline(debit_day: date, business_days: int = RESULT_WINDOW_BUSINESS_DAYS) -> date:
    """Last day a debit result may arrive: 14 business days after the debit."""
    return add_business_days(debit_day, business_days)


# --- IBAN and mandate reference --------------------------------------------------------------------------

# IBAN lengths of the SEPA countries (ISO 13616 registry); a debit mandate needs an account in one of them.
SEPA_IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20,
    "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26,
    "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28,
    "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "VA": 22,
}  # fmt: skip
HOLDER_MAX_LENGTH = 70  # SEPA debtor name field
_IBAN_CHARS = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]+$")
_SEPARATORS = re.compile(r"[\s\-.]")
_HOLDER_CHARS = re.compile(r"^[^\d<>{}\[\]@#$%^*=|\\~`_]+$")


def normalize_iban(raw: str) -> str:
    """The IBAN without spaces, dashes or dots, upper case (as typed from a RIB: 'FR76 3000 ...')."""
    return _SEPARATORS.sub("", raw).upper()


def iban_error(raw: str) -> str | None:
    """French message saying what is wrong with an IBAN for a SEPA mandate, or None when it is valid."""
    iban = normalize_iban(raw)
    if not iban:
        return "Saisissez l'IBAN du compte à débiter (il figure sur votre RIB)."
    if not _IBAN_CHARS.match(iban):
        return "Un IBAN commence par deux lettres (le pays) et deux chiffres, par exemple FR76 3000 6000 …"
    expected = SEPA_IBAN_LENGTHS.get(iban[:2])
    if expected is None:
        return f"Le pays {iban[:2]} n'appartient pas à la zone SEPA : le prélèvement est impossible."
    if len(iban) != expected:
        return f"Un IBAN {iban[:2]} compte {expected} caractères ; vous en avez saisi {len(iban)}."
    # ISO 13616 check: move the first four characters to the end, letters as 10..35, modulo 97 must be 1
    digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
    if int(digits) % 97 != 1:
        return "Cet IBAN n'est pas valide (clé de contrôle incorrecte) : vérifiez-le sur votre RIB."
    return None


def holder_error(raw: str) -> str | None:
    """French message for the account holder's name, or None when it is acceptable."""
    name = " ".join(raw.split())
    if len(name) < 2:
        return "Saisissez le nom du titulaire du compte, tel qu'il figure sur le RIB."
    if len(name) > HOLDER_MAX_LENGTH:
        return f"Le nom du titulaire ne doit pas dépasser {HOLDER_MAX_LENGTH} caractères."
    if not _HOLDER_CHARS.match(name):
        return "Le nom du titulaire ne peut contenir que des lettres, espaces, apostrophes et tirets."
    return None


def mask_iban(last4: str, country: str = "") -> str:
    """An IBAN shown after set-up: only the country and the last four characters ('FR•• •••• … 0189')."""
    prefix = f"{country.upper()}•• " if country else ""
    return f"{prefix}•••• •••• •••• {last4.upper()}"


def mandate_reference(account_ref: str, payment_method_id: str) -> str:
    """The mandate's unique reference (RUM, 35 characters at most): account and debited account method."""
    if not account_ref or not payment_method_id:
        raise ValueError("account_ref and payment_method_id are required")
    digest = hashlib.sha256(payment_method_id.encode()).hexdigest()[:10].upper()
    return f"VDP-{account_ref.replace('-', '')}-{digest}"


NOT_A_SEPA_MANDATE = "Ce moyen de paiement n'est pas un mandat de prélèvement SEPA : saisissez un IBAN."


def is_sepa_mandate_method(payment_method_type: str | None) -> bool:
    """Only a `sepa_debit` payment method can back a SEPA mandate (a card SetupIntent cannot)."""
    return payment_method_type == "sepa_debit"
