"""Partner directory in the Open Referral HSDS shape: its records and vocabulary (statuses, categories, areas), pure.

Reading and writing HSDS tables (JSON nested or flat, CSV) is in `domain.hsds_tables`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from domain.referral_cases import NeedCategory

ALL_ARRONDISSEMENTS: tuple[int, ...] = tuple(range(1, 21))


class ServiceStatus(StrEnum):
    """HSDS service status (HSDS "defunct" is loaded as inactive)."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    TEMPORARILY_CLOSED = "temporarily_closed"

    @property
    def label(self) -> str:
        """French label."""
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    ServiceStatus.ACTIVE: "Ouvert",
    ServiceStatus.INACTIVE: "Inactif",
    ServiceStatus.TEMPORARILY_CLOSED: "Fermé temporairement",
}
_STATUS_ALIASES = {
    "": ServiceStatus.ACTIVE,
    "active": ServiceStatus.ACTIVE,
    "inactive": ServiceStatus.INACTIVE,
    "defunct": ServiceStatus.INACTIVE,
    "temporarily closed": ServiceStatus.TEMPORARILY_CLOSED,
    "temporarily_closed": ServiceStatus.TEMPORARILY_CLOSED,
}
# Directory exports use English HSDS terms or French labels: both map onto our categories.
_CATEGORY_ALIASES: dict[str, NeedCategory] = {
    **{c.value: c for c in NeedCategory},
    **{c.label.lower(): c for c in NeedCategory},
    "garde": NeedCategory.CHILDCARE,
    "petite enfance": NeedCategory.CHILDCARE,
    "logement": NeedCategory.HOUSING,
    "sante": NeedCategory.HEALTH,
    "santé": NeedCategory.HEALTH,
    "aide financiere": NeedCategory.FINANCIAL_AID,
    "aide financière": NeedCategory.FINANCIAL_AID,
    "financial aid": NeedCategory.FINANCIAL_AID,
    "droit": NeedCategory.LEGAL,
    "juridique": NeedCategory.LEGAL,
    "handicap": NeedCategory.DISABILITY,
    "scolarite": NeedCategory.SCHOOL,
    "scolarité": NeedCategory.SCHOOL,
    "education": NeedCategory.SCHOOL,
    "loisirs": NeedCategory.LEISURE,
    "parentalite": NeedCategory.PARENTING,
    "parentalité": NeedCategory.PARENTING,
    "emploi": NeedCategory.EMPLOYMENT,
}


@dataclass(frozen=True)
class OrganizationRecord:
    """An HSDS organization: the partner structure (public service or association)."""

    id: str
    name: str
    description: str = ""
    email: str | None = None
    website: str | None = None
    phone: str | None = None
    legal_status: str | None = None


@dataclass(frozen=True)
class LocationRecord:
    """An HSDS location with its postal address."""

    id: str
    organization_id: str
    name: str
    address_1: str = ""
    postal_code: str = ""
    city: str = "Paris"
    arrondissement: int | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class ContactRecord:
    """An HSDS contact of an organization or a service."""

    id: str
    organization_id: str | None
    service_id: str | None
    name: str = ""
    title: str = ""
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class ServiceRecord:
    """An HSDS service with its categories of need, service area, eligibility and locations."""

    id: str
    organization_id: str
    name: str
    description: str = ""
    email: str | None = None
    url: str | None = None
    status: ServiceStatus = ServiceStatus.ACTIVE
    categories: tuple[NeedCategory, ...] = ()
    arrondissements: tuple[int, ...] = ALL_ARRONDISSEMENTS
    eligibility_description: str = ""
    minimum_age: int | None = None
    maximum_age: int | None = None
    application_process: str = ""
    location_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Directory:
    """A parsed directory and the French messages of the records it had to skip or correct."""

    organizations: tuple[OrganizationRecord, ...]
    services: tuple[ServiceRecord, ...]
    locations: tuple[LocationRecord, ...]
    contacts: tuple[ContactRecord, ...]
    errors: tuple[str, ...] = ()


def arrondissement_from_postal_code(code: str | None) -> int | None:
    """12 for "75012", 16 for "75116"; None outside Paris."""
    code = (code or "").strip()
    if code == "75116":
        return 16
    if re.fullmatch(r"750(0[1-9]|1[0-9]|20)", code):
        return int(code[3:])
    return None


def parse_service_area(text: str | None) -> tuple[int, ...] | None:
    """Arrondissements of a service area ("Paris 12e", "75012", "1er", "Paris" = all); None if unknown."""
    t = (text or "").strip().lower()
    if not t:
        return None
    found = {a for code in re.findall(r"\b75\d{3}\b", t) if (a := arrondissement_from_postal_code(code))}
    found.update(int(m) for m in re.findall(r"\b(\d{1,2})\s*(?:e|er|ème|eme)?\b", t) if 1 <= int(m) <= 20)
    if found:
        return tuple(sorted(found))
    if t in ("paris", "ville de paris", "75", "tout paris"):
        return ALL_ARRONDISSEMENTS
    return None


def parse_category(text: str | None) -> NeedCategory | None:
    """Our category for an HSDS taxonomy term or a French label; None if unknown."""
    return _CATEGORY_ALIASES.get((text or "").strip().lower())


def parse_status(text: str | None) -> ServiceStatus | None:
    """Our status for an HSDS service status ("defunct" is inactive, empty is active); None if unknown."""
    return _STATUS_ALIASES.get((text or "").strip().lower())
