"""The partner directory in the database: load HSDS data (upsert by HSDS id) and search it by need and place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import delete
from sqlmodel import Session, col, select

from domain.hsds import Directory, ServiceStatus
from domain.referral_cases import NeedCategory
from ville.models.common import utcnow
from ville.models.referrals import (
    PartnerContact,
    PartnerLocation,
    PartnerOrganization,
    PartnerService,
    PartnerServiceArea,
    PartnerServiceCategory,
    PartnerServiceLocation,
)

K = TypeVar("K")
V = TypeVar("V")


@dataclass
class LoadReport:
    """What a directory load did: counts per table and the records it skipped (French messages)."""

    organizations_created: int = 0
    organizations_updated: int = 0
    services_created: int = 0
    services_updated: int = 0
    locations: int = 0
    contacts: int = 0
    errors: list[str] = field(default_factory=list)


def load_directory(session: Session, directory: Directory) -> LoadReport:
    """Upsert a parsed HSDS directory in one transaction; a service's categories, areas, places are replaced."""
    report = LoadReport(errors=list(directory.errors))
    now = utcnow()
    orgs: dict[str, PartnerOrganization] = {
        o.hsds_id: o
        for o in session.exec(
            select(PartnerOrganization).where(
                col(PartnerOrganization.hsds_id).in_([o.id for o in directory.organizations])
            )
        )
    }
    for rec in directory.organizations:
        org = orgs.get(rec.id)
        if org is None:
            org = orgs[rec.id] = PartnerOrganization(hsds_id=rec.id, name=rec.name)
            report.organizations_created += 1
        else:
            report.organizations_updated += 1
        org.name, org.description, org.email = rec.name, rec.description, rec.email
        org.website, org.phone, org.legal_status, org.updated_at = rec.website, rec.phone, rec.legal_status, now
        session.add(org)
    session.flush()
    org_ids = _ids_by_hsds(session, PartnerOrganization, {o.organization_id for o in directory.services}
                           | {loc.organization_id for loc in directory.locations}
                           | {c.organization_id for c in directory.contacts if c.organization_id})  # fmt: skip
    locations: dict[str, PartnerLocation] = {
        loc.hsds_id: loc
        for loc in session.exec(
            select(PartnerLocation).where(col(PartnerLocation.hsds_id).in_([x.id for x in directory.locations]))
        )
    }
    for lrec in directory.locations:
        if lrec.organization_id not in org_ids:
            report.errors.append(f"lieu {lrec.id} : organisation {lrec.organization_id} absente de la base")
            continue
        loc = locations.get(lrec.id) or PartnerLocation(
            hsds_id=lrec.id, organization_id=org_ids[lrec.organization_id], name=lrec.name
        )
        loc.organization_id, loc.name, loc.address_1 = org_ids[lrec.organization_id], lrec.name, lrec.address_1
        loc.postal_code, loc.city, loc.arrondissement = lrec.postal_code, lrec.city, lrec.arrondissement
        loc.latitude, loc.longitude = lrec.latitude, lrec.longitude
        locations[lrec.id] = loc
        session.add(loc)
        report.locations += 1
    session.flush()
    services: dict[str, PartnerService] = {
        s.hsds_id: s
        for s in session.exec(
            select(PartnerService).where(col(PartnerService.hsds_id).in_([s.id for s in directory.services]))
        )
    }
    for srec in directory.services:
        if srec.organization_id not in org_ids:
            report.errors.append(f"service {srec.id} : organisation {srec.organization_id} absente de la base")
            continue
        svc = services.get(srec.id)
        if svc is None:
            svc = services[srec.id] = PartnerService(
                hsds_id=srec.id, organization_id=org_ids[srec.organization_id], name=srec.name
            )
            report.services_created += 1
        else:
            report.services_updated += 1
        svc.organization_id, svc.name, svc.description = org_ids[srec.organization_id], srec.name, srec.description
        svc.email, svc.url, svc.status = srec.email, srec.url, srec.status.value
        svc.eligibility_description, svc.application_process = srec.eligibility_description, srec.application_process
        svc.minimum_age, svc.maximum_age, svc.updated_at = srec.minimum_age, srec.maximum_age, now
        session.add(svc)
        session.flush()
        assert svc.id is not None
        for table in (PartnerServiceCategory, PartnerServiceArea, PartnerServiceLocation):
            session.execute(delete(table).where(col(table.service_id) == svc.id))
        session.add_all(PartnerServiceCategory(service_id=svc.id, category=c.value) for c in srec.categories)
        session.add_all(PartnerServiceArea(service_id=svc.id, arrondissement=a) for a in srec.arrondissements)
        loc_ids = [i for lid in srec.location_ids if lid in locations and (i := locations[lid].id) is not None]
        session.add_all(PartnerServiceLocation(service_id=svc.id, location_id=i) for i in loc_ids)
    session.flush()
    contacts = {
        c.hsds_id: c
        for c in session.exec(
            select(PartnerContact).where(col(PartnerContact.hsds_id).in_([c.id for c in directory.contacts]))
        )
    }
    for crec in directory.contacts:
        org_id = org_ids.get(crec.organization_id or "")
        if org_id is None:
            report.errors.append(f"contact {crec.id} : organisation absente de la base")
            continue
        contact = contacts.get(crec.id) or PartnerContact(hsds_id=crec.id, organization_id=org_id)
        contact.organization_id = org_id
        contact.service_id = services[crec.service_id].id if crec.service_id in services else None
        contact.name, contact.title, contact.email, contact.phone = crec.name, crec.title, crec.email, crec.phone
        session.add(contact)
        report.contacts += 1
    session.commit()
    return report


def _ids_by_hsds(session: Session, model: type[PartnerOrganization], hsds_ids: set[str]) -> dict[str, int]:
    rows = session.exec(select(model.hsds_id, model.id).where(col(model.hsds_id).in_(sorted(hsds_ids))))
    return {h: i for h, i in rows if i is not None}


@dataclass(frozen=True)
class ServiceHit:
    """A service found in the directory, with what an agent needs to choose it."""

    service: PartnerService
    organization: PartnerOrganization
    categories: list[str]
    arrondissements: list[int]
    locations: list[PartnerLocation]


def search_services(
    session: Session,
    need: NeedCategory | None = None,
    arrondissement: int | None = None,
    text: str | None = None,
    include_unavailable: bool = False,
    limit: int = 50,
) -> list[ServiceHit]:
    """Services answering `need` in `arrondissement`; those with a place in the arrondissement come first."""
    query = select(PartnerService, PartnerOrganization).join(
        PartnerOrganization, col(PartnerOrganization.id) == col(PartnerService.organization_id)
    )
    if not include_unavailable:
        query = query.where(PartnerService.status == ServiceStatus.ACTIVE.value)
    if need is not None:
        query = query.where(
            col(PartnerService.id).in_(
                select(PartnerServiceCategory.service_id).where(PartnerServiceCategory.category == need.value)
            )
        )
    if arrondissement is not None:
        query = query.where(
            col(PartnerService.id).in_(
                select(PartnerServiceArea.service_id).where(PartnerServiceArea.arrondissement == arrondissement)
            )
        )
    if text:
        pattern = f"%{text.strip().lower()}%"
        query = query.where(
            col(PartnerService.name).ilike(pattern)
            | col(PartnerOrganization.name).ilike(pattern)
            | col(PartnerService.description).ilike(pattern)
        )
    rows = list(session.exec(query.order_by(col(PartnerService.name)).limit(500)).all())
    ids = [s.id for s, _ in rows if s.id is not None]
    cats = _group(session.exec(select(PartnerServiceCategory.service_id, PartnerServiceCategory.category)
                               .where(col(PartnerServiceCategory.service_id).in_(ids))).all())  # fmt: skip
    areas = _group(session.exec(select(PartnerServiceArea.service_id, PartnerServiceArea.arrondissement)
                                .where(col(PartnerServiceArea.service_id).in_(ids))).all())  # fmt: skip
    places: dict[int, list[PartnerLocation]] = {}
    for sid, loc in session.exec(
        select(PartnerServiceLocation.service_id, PartnerLocation)
        .join(PartnerLocation, col(PartnerLocation.id) == col(PartnerServiceLocation.location_id))
        .where(col(PartnerServiceLocation.service_id).in_(ids))
    ).all():
        places.setdefault(sid, []).append(loc)
    hits = [
        ServiceHit(s, o, sorted(cats.get(s.id or 0, [])), sorted(areas.get(s.id or 0, [])), places.get(s.id or 0, []))
        for s, o in rows
    ]
    if arrondissement is not None:
        hits.sort(key=lambda h: not any(loc.arrondissement == arrondissement for loc in h.locations))
    return hits[:limit]


def _group(pairs: Sequence[tuple[K, V]]) -> dict[K, list[V]]:
    out: dict[K, list[V]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out
