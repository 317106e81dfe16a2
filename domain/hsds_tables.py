"""HSDS tables to directory records and back: JSON (nested or flat) and CSV data packages, pure."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from domain.hsds import (
    ALL_ARRONDISSEMENTS,
    ContactRecord,
    Directory,
    LocationRecord,
    OrganizationRecord,
    ServiceRecord,
    ServiceStatus,
    arrondissement_from_postal_code,
    parse_category,
    parse_service_area,
    parse_status,
)
from domain.referral_cases import NeedCategory

_TABLE_ALIASES = {
    "organizations": "organization",
    "services": "service",
    "locations": "location",
    "service_at_locations": "service_at_location",
    "contacts": "contact",
    "phones": "phone",
    "service_areas": "service_area",
    "attributes": "attribute",
    "taxonomy_terms": "taxonomy_term",
    "addresses": "address",
    "physical_address": "address",
    "physical_addresses": "address",
    "eligibilities": "eligibility",
}
_NESTED = {
    "organization": {
        "services": "service",
        "locations": "location",
        "contacts": "contact",
        "phones": "phone",
    },
    "service": {
        "service_areas": "service_area",
        "contacts": "contact",
        "phones": "phone",
        "attributes": "attribute",
        "service_at_locations": "service_at_location",
        "locations": "location",
        "eligibility": "eligibility",
    },
    "location": {"addresses": "address", "physical_addresses": "address", "phones": "phone"},
}
_PARENT_KEY = {"organization": "organization_id", "service": "service_id", "location": "location_id"}


def csv_tables(files: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Tables of an HSDS CSV data package: {"organizations.csv": text, ...} → {"organization": rows}."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for name, text in files.items():
        table = _table_name(name.rsplit("/", 1)[-1].removesuffix(".csv"))
        rows = [
            {k.strip(): (v or "").strip() for k, v in row.items() if k}
            for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        ]
        tables.setdefault(table, []).extend(rows)
    return tables


def parse_directory(data: Mapping[str, Any]) -> Directory:
    """Parse HSDS JSON: flat tables ({"organization": [...], "service": [...]}) or nested organizations."""
    tables: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for key, rows in data.items():
        if isinstance(rows, list):
            for row in rows:
                if isinstance(row, dict):
                    _flatten(_table_name(key), row, tables, {})
    return _parse_tables(tables)


def _table_name(name: str) -> str:
    n = name.strip().lower()
    return _TABLE_ALIASES.get(n, n)


def _flatten(table: str, row: Mapping[str, Any], tables: dict[str, list[dict[str, Any]]],
             inherited: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    nested = _NESTED.get(table, {})
    flat = {**inherited, **{k: v for k, v in row.items() if k not in nested and not isinstance(v, dict)}}
    if table == "service" and isinstance(row.get("organization"), dict):
        flat.setdefault("organization_id", _flatten("organization", row["organization"], tables, {}).get("id"))
    if table == "service_at_location" and isinstance(row.get("location"), dict):
        loc = _flatten("location", row["location"], tables, {"organization_id": inherited.get("organization_id")})
        flat["location_id"] = loc.get("id")
    if table == "attribute" and isinstance(row.get("taxonomy_term"), dict):
        term = row["taxonomy_term"]
        tables["taxonomy_term"].append(dict(term))
        flat["taxonomy_term_id"] = term.get("id") or term.get("code") or term.get("term")
    tables[table].append(flat)
    for key, child_table in nested.items():
        children = row.get(key)
        if not isinstance(children, list):
            if isinstance(children, str) and child_table == "eligibility":
                tables["eligibility"].append({"service_id": flat.get("id"), "eligibility": children})
            continue
        link = {_PARENT_KEY[table]: flat.get("id")}
        if table == "service":
            link["organization_id"] = flat.get("organization_id")
            if child_table == "attribute":
                link = {"link_id": flat.get("id"), "link_type": "service"}
        if table == "service" and child_table == "location":
            for child in children:
                if isinstance(child, dict):
                    loc = _flatten("location", child, tables, {"organization_id": flat.get("organization_id")})
                    tables["service_at_location"].append({"service_id": flat.get("id"), "location_id": loc.get("id")})
            continue
        for child in children:
            if isinstance(child, dict):
                _flatten(child_table, child, tables, {k: v for k, v in link.items() if k not in child})
    return flat


def _s(row: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = row.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


def _opt(row: Mapping[str, Any], *keys: str) -> str | None:
    return _s(row, *keys) or None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip()) if value not in (None, "") else None
    except ValueError:
        return None


def _float(value: Any) -> float | None:
    try:
        return float(str(value).strip()) if value not in (None, "") else None
    except ValueError:
        return None


def _split(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [p for p in re.split(r"[;|,]", str(value or "")) if p.strip()]


def _parse_tables(t: Mapping[str, list[dict[str, Any]]]) -> Directory:
    errors: list[str] = []
    orgs: dict[str, OrganizationRecord] = {}
    phones_by: dict[tuple[str, str], str] = {}
    for p in t.get("phone", []):
        number = _s(p, "number", "phone")
        for key in ("contact_id", "service_id", "organization_id", "location_id"):
            if number and _s(p, key):
                phones_by.setdefault((key, _s(p, key)), number)
    for row in t.get("organization", []):
        oid, name = _s(row, "id"), _s(row, "name")
        if not oid or not name:
            errors.append(f"organisation sans identifiant ou sans nom ignorée ({oid or name or '?'})")
            continue
        orgs[oid] = OrganizationRecord(
            id=oid,
            name=name,
            description=_s(row, "description"),
            email=_opt(row, "email"),
            website=_opt(row, "website", "url"),
            phone=_opt(row, "phone") or phones_by.get(("organization_id", oid)),
            legal_status=_opt(row, "legal_status"),
        )
    addresses: dict[str, Mapping[str, Any]] = {}
    for a in t.get("address", []):
        if _s(a, "location_id") and _s(a, "address_type") in ("", "physical"):
            addresses.setdefault(_s(a, "location_id"), a)
    locations: dict[str, LocationRecord] = {}
    for row in t.get("location", []):
        lid, org = _s(row, "id"), _s(row, "organization_id")
        if not lid:
            errors.append("lieu sans identifiant ignoré")
            continue
        if org not in orgs:
            errors.append(f"lieu {lid} : organisation inconnue « {org} » (ignoré)")
            continue
        addr = addresses.get(lid, row)
        postal = _s(addr, "postal_code")
        locations[lid] = LocationRecord(
            id=lid,
            organization_id=org,
            name=_s(row, "name") or orgs[org].name,
            address_1=_s(addr, "address_1", "address"),
            postal_code=postal,
            city=_s(addr, "city") or "Paris",
            arrondissement=arrondissement_from_postal_code(postal),
            latitude=_float(row.get("latitude")),
            longitude=_float(row.get("longitude")),
        )
    terms = {
        _s(term, "id") or _s(term, "code") or _s(term, "term"): _s(term, "code") or _s(term, "term") or _s(term, "name")
        for term in t.get("taxonomy_term", [])
    }
    attr_terms: dict[str, list[str]] = defaultdict(list)
    for a in t.get("attribute", []):
        if _s(a, "link_type") in ("", "service"):
            tid = _s(a, "taxonomy_term_id")
            attr_terms[_s(a, "link_id", "service_id")].append(terms.get(tid, tid))
    areas: dict[str, set[int]] = defaultdict(set)
    for a in t.get("service_area", []):
        sid = _s(a, "service_id")
        parsed = parse_service_area(_s(a, "name", "service_area", "extent", "description", "postal_code"))
        if parsed is None:
            errors.append(f"service {sid} : zone « {_s(a, 'name', 'service_area')} » non reconnue (ignorée)")
        else:
            areas[sid].update(parsed)
    eligibility: dict[str, list[str]] = defaultdict(list)
    for e in t.get("eligibility", []):
        if _s(e, "eligibility"):
            eligibility[_s(e, "service_id")].append(_s(e, "eligibility"))
    service_locations: dict[str, list[str]] = defaultdict(list)
    for sal in t.get("service_at_location", []):
        sid, lid = _s(sal, "service_id"), _s(sal, "location_id")
        if lid in locations and lid not in service_locations[sid]:
            service_locations[sid].append(lid)
    services: dict[str, ServiceRecord] = {}
    for row in t.get("service", []):
        sid, org, name = _s(row, "id"), _s(row, "organization_id"), _s(row, "name")
        if not sid or not name:
            errors.append(f"service sans identifiant ou sans nom ignoré ({sid or name or '?'})")
            continue
        if org not in orgs:
            errors.append(f"service {sid} : organisation inconnue « {org} » (ignoré)")
            continue
        status = parse_status(_s(row, "status"))
        if status is None:
            errors.append(f"service {sid} : statut « {_s(row, 'status')} » inconnu, chargé comme inactif")
            status = ServiceStatus.INACTIVE
        categories: list[NeedCategory] = []
        for raw in [*_split(row.get("categories")), *attr_terms.get(sid, [])]:
            cat = parse_category(raw)
            if cat is None:
                errors.append(f"service {sid} : catégorie « {raw.strip()} » inconnue (ignorée)")
            elif cat not in categories:
                categories.append(cat)
        loc_ids = tuple(service_locations.get(sid, []))
        area = (
            areas.get(sid)
            or {arr for lid in loc_ids if (arr := locations[lid].arrondissement) is not None}
            or set(ALL_ARRONDISSEMENTS)
        )
        services[sid] = ServiceRecord(
            id=sid,
            organization_id=org,
            name=name,
            description=_s(row, "description"),
            email=_opt(row, "email"),
            url=_opt(row, "url"),
            status=status,
            categories=tuple(categories),
            arrondissements=tuple(sorted(area)),
            eligibility_description=" ".join([_s(row, "eligibility_description"), *eligibility.get(sid, [])]).strip(),
            minimum_age=_int(row.get("minimum_age")),
            maximum_age=_int(row.get("maximum_age")),
            application_process=_s(row, "application_process"),
            location_ids=loc_ids,
        )
    contacts: list[ContactRecord] = []
    for row in t.get("contact", []):
        cid = _s(row, "id")
        c_org, svc = _opt(row, "organization_id"), _opt(row, "service_id")
        if not cid or (c_org not in orgs and svc not in services):
            errors.append(f"contact {cid or '?'} : ni organisation ni service connu (ignoré)")
            continue
        contacts.append(
            ContactRecord(
                id=cid,
                organization_id=c_org if c_org in orgs else services[svc].organization_id if svc else None,
                service_id=svc if svc in services else None,
                name=_s(row, "name"),
                title=_s(row, "title"),
                email=_opt(row, "email"),
                phone=_opt(row, "phone") or phones_by.get(("contact_id", cid)),
            )
        )
    return Directory(
        organizations=tuple(orgs.values()),
        services=tuple(services.values()),
        locations=tuple(locations.values()),
        contacts=tuple(contacts),
        errors=tuple(errors),
    )


def directory_as_hsds(
    organizations: Iterable[OrganizationRecord],
    services: Iterable[ServiceRecord],
    locations: Iterable[LocationRecord] = (),
    contacts: Iterable[ContactRecord] = (),
) -> dict[str, list[dict[str, Any]]]:
    """Flat HSDS tables of records (the inverse of `parse_directory`, for exports and demo data)."""
    svcs = list(services)
    return {
        "organization": [{k: v for k, v in vars(o).items() if v is not None} for o in organizations],
        "service": [
            {
                "id": s.id,
                "organization_id": s.organization_id,
                "name": s.name,
                "description": s.description,
                "email": s.email,
                "url": s.url,
                "status": "temporarily closed" if s.status is ServiceStatus.TEMPORARILY_CLOSED else s.status.value,
                "categories": [c.value for c in s.categories],
                "eligibility_description": s.eligibility_description,
                "minimum_age": s.minimum_age,
                "maximum_age": s.maximum_age,
                "application_process": s.application_process,
            }
            for s in svcs
        ],
        "service_area": [
            {"service_id": s.id, "name": f"Paris {a}e" if a > 1 else "Paris 1er"}
            for s in svcs
            for a in s.arrondissements
        ],
        "location": [{k: v for k, v in vars(loc).items() if k != "arrondissement"} for loc in locations],
        "service_at_location": [{"service_id": s.id, "location_id": lid} for s in svcs for lid in s.location_ids],
        "contact": [{k: v for k, v in vars(c).items() if v is not None} for c in contacts],
    }
