"""A partner's secure answer links: their claims, renewals and supersession (signing happens in an adapter)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from domain.referral_dates import LINK_VALIDITY_DAYS, link_expiry, require_aware

# the first link and three renewals: each renewal is an e-mail to the service, asked for by whoever holds a link
PARTNER_LINKS_MAX = 4
LINK_RENEWALS_EXHAUSTED = (
    "Ce lien a déjà été renouvelé trop de fois : le relais RIF vous recontactera ; vous pouvez aussi l'appeler."
)
LINK_SUPERSEDED = "Ce lien a été remplacé par un lien plus récent : utilisez le dernier lien reçu."


def may_renew_link(links_issued: int) -> bool:
    """True while a referral has sent fewer partner links than allowed."""
    return links_issued < PARTNER_LINKS_MAX


def is_superseded(link_expires_at: datetime, latest_expires_at: datetime | None) -> bool:
    """True for a link older than the latest one issued for the referral (every renewal revokes the others)."""
    return latest_expires_at is not None and link_expires_at < latest_expires_at


@dataclass(frozen=True)
class LinkClaims:
    """What a partner's secure answer link asserts; signing and verifying happen in an adapter."""

    referral_ref: str
    partner_ref: str
    expires_at: datetime

    def __post_init__(self) -> None:
        require_aware(expires_at=self.expires_at)
        if not self.referral_ref or not self.partner_ref:
            raise ValueError("referral_ref and partner_ref are required")

    @classmethod
    def issue(cls, referral_ref: str, partner_ref: str, issued: datetime, days: int = LINK_VALIDITY_DAYS) -> LinkClaims:
        """Claims for a link issued at `issued`, valid `days` days."""
        return cls(referral_ref, partner_ref, link_expiry(issued, days))

    def is_valid_at(self, now: datetime) -> bool:
        """True strictly before expiry."""
        require_aware(now=now)
        return now < self.expires_at

    def as_payload(self) -> dict[str, str]:
        """JSON-safe dict for the signer."""
        return {
            "referral_ref": self.referral_ref,
            "partner_ref": self.partner_ref,
            "expires_at": self.expires_at.isoformat(),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, str]) -> LinkClaims:
        """Inverse of `as_payload` (after the signature was checked)."""
        return cls(payload["referral_ref"], payload["partner_ref"], datetime.fromisoformat(payload["expires_at"]))
