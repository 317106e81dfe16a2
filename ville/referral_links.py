"""Signed links of the RIF process: partners answer a referral, families follow their case.

The token is an itsdangerous signature (rotated keys, one salt per link kind) over claims that carry their
own expiry, so the activity that issues a link and the API that reads it agree on workflow-computed dates.
Tokens travel in a query parameter or a POST body and are never logged (the access log logs paths only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from itsdangerous import BadSignature, URLSafeSerializer

from domain.referral_links import LinkClaims


@dataclass(frozen=True)
class FamilyLinkClaims:
    """What a family's status link asserts: one case, until a date."""

    case_ref: str
    expires_at: datetime

    def is_valid_at(self, now: datetime) -> bool:
        """True strictly before expiry."""
        return now < self.expires_at


class LinkState(StrEnum):
    """Why a token was refused (or not): the API answers 403 for a bad one and 410 for an expired one."""

    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"


class ReferralLinkSigner:
    """Signs and reads partner and family links; the first key signs, every key verifies (rotation)."""

    def __init__(self, keys_newest_first: list[str]) -> None:
        keys = list(reversed(keys_newest_first))  # itsdangerous signs with the last key
        self._partner = URLSafeSerializer(keys, salt="referral-partner-link")
        self._family = URLSafeSerializer(keys, salt="referral-family-link")

    def partner_token(self, claims: LinkClaims) -> str:
        """The token of a partner's answer link."""
        return str(self._partner.dumps(claims.as_payload()))

    def read_partner_token(self, token: str, now: datetime) -> tuple[LinkState, LinkClaims | None]:
        """(LinkState, claims): claims are returned for expired links too, so they can be renewed."""
        try:
            claims = LinkClaims.from_payload(self._partner.loads(token))
        except (BadSignature, KeyError, ValueError, TypeError):
            return LinkState.INVALID, None
        return (LinkState.VALID if claims.is_valid_at(now) else LinkState.EXPIRED), claims

    def family_token(self, claims: FamilyLinkClaims) -> str:
        """The token of a family's status link."""
        return str(self._family.dumps({"case_ref": claims.case_ref, "expires_at": claims.expires_at.isoformat()}))

    def read_family_token(self, token: str, now: datetime) -> tuple[LinkState, FamilyLinkClaims | None]:
        """(LinkState, claims) of a family's status link."""
        try:
            data = self._family.loads(token)
            claims = FamilyLinkClaims(str(data["case_ref"]), datetime.fromisoformat(data["expires_at"]))
            if claims.expires_at.tzinfo is None:
                return LinkState.INVALID, None
        except (BadSignature, KeyError, ValueError, TypeError):
            return LinkState.INVALID, None
        return (LinkState.VALID if claims.is_valid_at(now) else LinkState.EXPIRED), claims
