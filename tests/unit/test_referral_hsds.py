"""HSDS partner directory parsing: nested JSON, flat tables, CSV data packages, service areas, categories."""

from __future__ import annotations

import pytest

from domain.hsds import (
    ALL_ARRONDISSEMENTS,
    ServiceStatus,
    arrondissement_from_postal_code,
    parse_category,
    parse_service_area,
    parse_status,
)
from domain.hsds_tables import csv_tables, directory_as_hsds, parse_directory
from domain.referral_cases import NeedCategory


@pytest.mark.parametrize(
    ("code", "arr"), [("75001", 1), ("75012", 12), ("75020", 20), ("75116", 16), ("75021", None), ("93100", None)]
)
def test_arrondissement_from_postal_code(code: str, arr: int | None) -> None:
    assert arrondissement_from_postal_code(code) == arr


@pytest.mark.parametrize(
    ("text", "arrs"),
    [
        ("Paris 12e", (12,)),
        ("Paris 1er", (1,)),
        ("75011", (11,)),
        ("Paris 9e, 10e et 75019", (9, 10, 19)),
        ("9e et 10e arrondissements", (9, 10)),
        ("Paris", ALL_ARRONDISSEMENTS),
        ("Tout Paris", ALL_ARRONDISSEMENTS),
        ("Île-de-France", None),
        ("", None),
    ],
)
def test_service_areas(text: str, arrs: tuple[int, ...] | None) -> None:
    assert parse_service_area(text) == arrs


def test_categories_accept_codes_and_french_labels() -> None:
    assert parse_category("housing") is NeedCategory.HOUSING
    assert parse_category(" Logement ") is NeedCategory.HOUSING
    assert parse_category("Garde d'enfants") is NeedCategory.CHILDCARE
    assert parse_category("santé") is NeedCategory.HEALTH
    assert parse_category("astrologie") is None


def test_statuses_accept_hsds_terms() -> None:
    assert parse_status("") is ServiceStatus.ACTIVE
    assert parse_status(" Defunct ") is ServiceStatus.INACTIVE
    assert parse_status("temporarily closed") is ServiceStatus.TEMPORARILY_CLOSED
    assert parse_status("bientôt") is None


NESTED = {
    "organizations": [
        {
            "id": "o1",
            "name": "Association Logement Paris",
            "email": "contact@alp.example",
            "locations": [
                {"id": "l1", "name": "Siège", "addresses": [{"address_1": "1 rue X", "postal_code": "75012"}]}
            ],
            "services": [
                {
                    "id": "s1",
                    "name": "Hébergement",
                    "status": "temporarily closed",
                    "service_areas": [{"name": "Paris 12e"}, {"name": "Paris 11e"}],
                    "attributes": [{"taxonomy_term": {"id": "t1", "code": "housing"}}],
                    "service_at_locations": [{"location_id": "l1"}],
                    "contacts": [{"id": "c1", "name": "Accueil", "email": "accueil@alp.example"}],
                    "minimum_age": "0",
                },
                {"id": "s2", "name": "Conseil", "categories": "legal; housing; astrologie", "status": "defunct"},
            ],
        }
    ]
}


def test_nested_hsds_json_is_flattened() -> None:
    d = parse_directory(NESTED)
    assert [o.id for o in d.organizations] == ["o1"]
    s1, s2 = d.services
    assert (s1.status, s1.categories, s1.arrondissements) == (
        ServiceStatus.TEMPORARILY_CLOSED,
        (NeedCategory.HOUSING,),
        (11, 12),
    )
    assert s1.location_ids == ("l1",) and s1.minimum_age == 0
    assert d.locations[0].arrondissement == 12 and d.locations[0].address_1 == "1 rue X"
    assert d.contacts[0].service_id == "s1" and d.contacts[0].organization_id == "o1"
    # no area and no place: the whole of Paris; "defunct" loads as inactive; unknown categories reported
    assert s2.arrondissements == ALL_ARRONDISSEMENTS and s2.status is ServiceStatus.INACTIVE
    assert s2.categories == (NeedCategory.LEGAL, NeedCategory.HOUSING)
    assert d.errors == ("service s2 : catégorie « astrologie » inconnue (ignorée)",)


def test_records_without_organisation_or_with_unknown_status_are_reported() -> None:
    d = parse_directory(
        {
            "organization": [{"id": "o1", "name": "A"}, {"id": "", "name": "sans id"}],
            "service": [
                {"id": "s1", "organization_id": "o9", "name": "Orphelin"},
                {"id": "s2", "organization_id": "o1", "name": "Bizarre", "status": "peut-être"},
            ],
        }
    )
    assert [s.id for s in d.services] == ["s2"] and d.services[0].status is ServiceStatus.INACTIVE
    assert len(d.errors) == 3
    assert any("organisation inconnue « o9 »" in e for e in d.errors)


def test_csv_data_package_with_taxonomy_and_bom() -> None:
    tables = csv_tables(
        {
            "organizations.csv": "\ufeffid,name,email\no1,Maison des familles,mf@example.org\n",
            "services.csv": "id,organization_id,name,status,eligibility_description\n"
            's1,o1,"Soutien, écoute",active,Parents\n',
            "taxonomy_terms.csv": "id,term\nt1,Soutien à la parentalité\n",
            "attributes.csv": "link_id,link_type,taxonomy_term_id\ns1,service,t1\n",
            "service_areas.csv": "service_id,name\ns1,Paris 4e\n",
            "eligibility.csv": "service_id,eligibility\ns1,avec enfants de moins de 6 ans\n",
            "phones.csv": "organization_id,number\no1,01 02 03 04 05\n",
        }
    )
    d = parse_directory(tables)
    (s,) = d.services
    assert (s.name, s.categories, s.arrondissements) == ("Soutien, écoute", (NeedCategory.PARENTING,), (4,))
    assert s.eligibility_description == "Parents avec enfants de moins de 6 ans"
    assert d.organizations[0].email == "mf@example.org" and d.organizations[0].phone == "01 02 03 04 05"
    assert d.errors == ()


def test_export_round_trips() -> None:
    d = parse_directory(NESTED)
    again = parse_directory(directory_as_hsds(d.organizations, d.services, d.locations, d.contacts))
    assert again.services == d.services
    assert again.organizations == d.organizations
    assert again.locations == d.locations
