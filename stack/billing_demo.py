"""Synthetic Facil'familles data: accounts across the 20 arrondissements, children, attendance, users."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select

from domain.calendar import is_business_day
from domain.periods import BillingPeriod, period_for, previous_period
from domain.tariffs import DEFAULT_QF_BOUNDS_CENTS
from stack.seeding import DEMO_ACCOUNTS, SEEDERS, SeedContext
from ville.models.billing import (
    Activity,
    Attendance,
    Child,
    DeliveryChannel,
    FamilyAccount,
    Payer,
    Registration,
    TariffGridVersion,
)
from ville.models.people import Role, UserAccount

GRIDS_FILE = Path(__file__).resolve().parent.parent / "domain" / "data" / "tariff_grids.json"
CATALOGUE = [
    ("cantine", "Restauration scolaire", "restauration", False),
    ("centre_loisirs", "Centre de loisirs", "periscolaire", True),
    ("etude", "Étude surveillée", "periscolaire", False),
    ("atelier_bleu", "Ateliers bleus", "periscolaire", False),
    ("gouter", "Goûter récréatif", "periscolaire", True),
    ("creche", "Crèche municipale", "creche", True),
    ("conservatoire", "Conservatoire", "conservatoire", False),
]
FIRST_NAMES = [
    "Léa",
    "Hugo",
    "Chloé",
    "Lucas",
    "Inès",
    "Adam",
    "Jade",
    "Louis",
    "Emma",
    "Gabriel",
    "Zoé",
    "Noah",
    "Manon",
    "Rayan",
    "Camille",
    "Sacha",
    "Aïcha",
    "Yanis",
    "Élise",
    "Mamadou",
    "Anaïs",
    "Théo",
    "Nour",
    "Jules",
    "Sofia",
    "Moussa",
    "Lina",
    "Arthur",
    "Maëlys",
    "Ibrahim",
]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "Diallo",
    "Nguyen",
    "Traoré",
    "Benali",
    "Fontaine",
    "Rousseau",
    "Haddad",
    "Cohen",
    "Da Silva",
    "Mercier",
    "Blanc",
    "Guérin",
]
STREETS = [
    "rue de Rivoli",
    "boulevard Voltaire",
    "rue de la Roquette",
    "avenue Daumesnil",
    "rue des Pyrénées",
    "rue du Faubourg Saint-Antoine",
    "rue Oberkampf",
    "avenue de Clichy",
    "rue de Belleville",
    "rue Lecourbe",
    "rue de Vaugirard",
    "avenue d'Italie",
]
DEMO_FAMILY_EMAILS = ["famille1@demo.paris.fr", "famille2@demo.paris.fr", "famille3@demo.paris.fr"]
CHUNK = 2_000
ATTENDANCE_COLUMNS = ("child_id", "account_id", "activity_code", "day", "registered", "source")


def bulk_insert(conn: Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert many rows through the driver: executemany on SQLite, COPY on PostgreSQL (~10x the ORM)."""
    if not rows:
        return
    raw = conn.connection.driver_connection
    cols = ", ".join(columns)
    if conn.dialect.name == "sqlite":
        raw.execute("PRAGMA cache_size=-262144")  # 256 MB page cache: the unique index is built in memory
        raw.executemany(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(columns))})", rows)
    else:
        with raw.cursor().copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def billing_period_to_seed(today: date, months: int = 2) -> BillingPeriod:
    """The last closed period before `today`: what the demo's operator bills."""
    return previous_period(period_for(today, months))


def seed_billing(ctx: SeedContext) -> None:
    """Catalogue, grids, families with payers and children, attendance of the last closed period, users."""
    rng = ctx.rng("billing")
    period = billing_period_to_seed(ctx.today)
    with ctx.engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(Activity)).scalar_one() == 0:
            conn.execute(
                insert(Activity),
                [dict(zip(("code", "label", "family", "cesu_eligible"), a, strict=True)) for a in CATALOGUE],
            )
            conn.execute(insert(TariffGridVersion), [_grid_row(g) for g in json.loads(GRIDS_FILE.read_text())])
        first_id = (conn.execute(select(func.max(FamilyAccount.id))).scalar() or 0) + 1
    # days as ISO text: the driver's date adapter costs more than the insert itself
    school_days = [(d, d.isoformat()) for d in _days(period.start, period.end) if is_business_day(d)]
    for start in range(0, ctx.families, CHUNK):
        n = min(CHUNK, ctx.families - start)
        accounts, payers, children, regs, attendance = _families(rng, first_id + start, n, school_days, period)
        with ctx.engine.begin() as conn:
            conn.execute(insert(FamilyAccount), accounts)
            conn.execute(insert(Payer), payers)
            conn.execute(insert(Child), children)
            conn.execute(insert(Registration), regs)
            bulk_insert(conn, Attendance.__tablename__, ATTENDANCE_COLUMNS, attendance)
    with ctx.engine.begin() as conn:
        conn.execute(insert(UserAccount), _users(first_id))
    DEMO_ACCOUNTS.extend(
        [
            ("famille", DEMO_FAMILY_EMAILS[0]),
            ("opérateur facturation", "facturation@demo.paris.fr"),
            ("opérateur", "operateur@demo.paris.fr"),
            ("administrateur", "admin@demo.paris.fr"),
        ]
    )


def _grid_row(g: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": g["id"],
        "effective_from": date.fromisoformat(g["effective_from"]),
        "effective_to": date.fromisoformat(g["effective_to"]) if g.get("effective_to") else None,
        "data": g,
    }


def _days(start: date, end: date) -> Iterator[date]:
    d = start
    while d <= end:
        yield d
        d += timedelta(days=1)


def _users(first_id: int) -> list[dict[str, Any]]:
    users = [
        {
            "email": email,
            "display_name": f"Famille démo {i + 1}",
            "role": Role.family,
            "family_account_id": first_id + i,
        }
        for i, email in enumerate(DEMO_FAMILY_EMAILS)
    ]
    users += [
        {"email": "facturation@demo.paris.fr", "display_name": "Service facturation", "role": Role.billing_operator},
        {"email": "operateur@demo.paris.fr", "display_name": "Exploitation", "role": Role.operator},
        {"email": "admin@demo.paris.fr", "display_name": "Administration", "role": Role.admin},
    ]
    return [{"family_account_id": None, "active": True, **u} for u in users]


def _families(
    rng: random.Random, first_id: int, n: int, school_days: list[tuple[date, str]], period: BillingPeriod
) -> tuple[
    list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[tuple[Any, ...]]
]:
    accounts: list[dict[str, Any]] = []
    payers: list[dict[str, Any]] = []
    children: list[dict[str, Any]] = []
    regs: list[dict[str, Any]] = []
    attendance: list[tuple[Any, ...]] = []
    bounds = (0, *DEFAULT_QF_BOUNDS_CENTS, DEFAULT_QF_BOUNDS_CENTS[-1] * 2)
    for acc_id in range(first_id, first_id + n):
        tranche = rng.randint(1, 10)
        has_qf = rng.random() > 0.08
        last = rng.choice(LAST_NAMES)
        demo = acc_id - first_id < len(DEMO_FAMILY_EMAILS) and first_id == 1
        accounts.append(
            {
                "id": acc_id,
                "ref": f"FA-{acc_id:06d}",
                "arrondissement": rng.randint(1, 20),
                "qf_cents": rng.randint(bounds[tranche - 1] + 1, bounds[tranche]) if has_qf else None,
                "qf_valid_until": date(period.start.year, 12, 31) if has_qf else None,
                "delivery_channel": DeliveryChannel.post if rng.random() < 0.15 else DeliveryChannel.email,
                "sms_opt_in": rng.random() < 0.4,
            }
        )
        payer_first = rng.choice(FIRST_NAMES)
        payers.append(
            {
                "account_id": acc_id,
                "first_name": payer_first,
                "last_name": last,
                "email": DEMO_FAMILY_EMAILS[acc_id - first_id] if demo else f"payeur.{acc_id}@exemple.fr",
                "phone": f"+336{rng.randint(10_000_000, 99_999_999)}",
                "address": f"{rng.randint(1, 180)} {rng.choice(STREETS)}, 750{rng.randint(1, 20):02d} Paris",
            }
        )
        for k in range(rng.choice((1, 1, 2, 2, 2, 3, 3, 4))):
            child_id = acc_id * 10 + k
            age = rng.randint(1, 11)
            children.append(
                {
                    "id": child_id,
                    "account_id": acc_id,
                    "ref": f"EN-{child_id:07d}",
                    "first_name": rng.choice(FIRST_NAMES),
                    "last_name": last,
                    "birth_date": date(period.start.year - age, rng.randint(1, 12), rng.randint(1, 28)),
                }
            )
            for code, weekdays in _activities_for(rng, age):
                regs.append({"child_id": child_id, "activity_code": code, "start": period.start, "end": None})
                registered = rng.random() > 0.03
                attendance.extend(
                    (child_id, acc_id, code, iso, registered, "demo")
                    for d, iso in school_days
                    if d.weekday() in weekdays and rng.random() < 0.92
                )
    return accounts, payers, children, regs, attendance


def _activities_for(rng: random.Random, age: int) -> list[tuple[str, tuple[int, ...]]]:
    if age < 3:
        return [("creche", (0, 1, 2, 3, 4))]
    chosen: list[tuple[str, tuple[int, ...]]] = []
    if rng.random() < 0.85:
        chosen.append(("cantine", (0, 1, 3, 4)))
    if rng.random() < 0.5:
        chosen.append(("centre_loisirs", (2,)))
    if age >= 6 and rng.random() < 0.3:
        chosen.append(("etude", (0, 1, 3, 4)))
    if rng.random() < 0.35:
        chosen.append(("gouter", (0, 1, 3, 4)))
    if rng.random() < 0.2:
        chosen.append(("atelier_bleu", (rng.choice((0, 1, 3, 4)),)))
    if age >= 6 and rng.random() < 0.1:
        chosen.append(("conservatoire", (rng.choice((2, 5)),)))
    return chosen


SEEDERS.append(seed_billing)
