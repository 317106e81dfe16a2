"""Family pages and routes for the SEPA mandate and the yearly statement: validation, CSRF, ownership."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

import httpx
import stripe
from fastapi import FastAPI
from sqlalchemy import func, insert, select
from sqlmodel import col

from api.security import SESSION_COOKIE, Principal
from domain.dunning import InvoiceStatus
from domain.payments import PaymentMethod
from domain.sepa import mandate_reference
from tests.accounts import session_token
from ville.db import SessionFactory
from ville.models.billing import (
    Child,
    FamilyAccount,
    Invoice,
    InvoiceLine,
    MandateStatus,
    Payer,
    Payment,
    PaymentAllocation,
    PaymentStatus,
)
from ville.models.people import Role

GOOD_IBAN = "FR14 2004 1010 0505 0001 3M02 606"
BAD_CHECK_DIGITS_IBAN = "FR15 2004 1010 0505 0001 3M02 606"


@dataclass
class Account:
    """A family account of the test with its reference."""

    id: int
    ref: str


def add_account(sessions: SessionFactory, children: list[tuple[str, date]]) -> Account:
    """An account, its payer and its children (refs EN-<account>-<n>)."""
    with sessions() as s, s.begin():
        acc_id = (s.execute(select(func.max(FamilyAccount.id))).scalar() or 0) + 3000
        ref = f"FA-{acc_id:06d}"
        s.execute(insert(FamilyAccount).values(id=acc_id, ref=ref, arrondissement=11))
        s.execute(insert(Payer).values(account_id=acc_id, first_name="Camille", last_name="Testattestation",
                                       email=f"camille{acc_id}@familles.example",
                                       address="5 rue Oberkampf, 75011 Paris"))  # fmt: skip
        for n, (first_name, birth) in enumerate(children):
            s.execute(insert(Child).values(account_id=acc_id, ref=f"EN-{acc_id}-{n}", first_name=first_name,
                                           last_name="Testattestation", birth_date=birth))  # fmt: skip
    return Account(acc_id, ref)


def add_paid_invoice(
    sessions: SessionFactory,
    account: Account,
    number: str,
    lines: list[tuple[int, str, int]],
    paid: list[tuple[int, datetime, PaymentMethod]],
) -> None:
    """An invoice with lines (child index, activity, cents) and succeeded payments allocated to it."""
    total = sum(c for _, _, c in lines)
    with sessions() as s, s.begin():
        invoice_id = s.execute(
            insert(Invoice)
            .values(number=number, account_id=account.id, period_key=number[-7:], period_start=date(2025, 1, 1),
                    period_end=date(2025, 2, 28), issue_date=date(2025, 3, 3), due_date=date(2025, 4, 25), tranche=4,
                    lines_total_cents=total, amount_due_cents=total, paid_cents=sum(p[0] for p in paid),
                    status=InvoiceStatus.PAID)
            .returning(col(Invoice.id))
        ).scalar_one()  # fmt: skip
        for child, code, cents in lines:
            s.execute(insert(InvoiceLine).values(invoice_id=invoice_id, child_ref=f"EN-{account.id}-{child}",
                                                 child_first_name="x", activity_code=code, label=code, quantity=1,
                                                 unit_price_cents=cents, amount_cents=cents))  # fmt: skip
        for n, (cents, at, method) in enumerate(paid):
            payment_id = s.execute(
                insert(Payment)
                .values(key=f"test:{number}:{n}", invoice_id=invoice_id, account_id=account.id, method=method,
                        amount_cents=cents, status=PaymentStatus.succeeded, settled_at=at)
                .returning(col(Payment.id))
            ).scalar_one()  # fmt: skip
            s.execute(
                insert(PaymentAllocation).values(payment_id=payment_id, invoice_id=invoice_id, amount_cents=cents)
            )


def browser(app: FastAPI, account: Account) -> tuple[httpx.AsyncClient, str]:
    """A client with the family's session cookie, and the CSRF token of that session."""
    token = session_token(app, Principal(user_id=account.id, role=Role.family, family_account_id=account.id))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                               cookies={SESSION_COOKIE: token})  # fmt: skip
    return client, app.state.signer.csrf_token(token)


def error_next_to(html: str, field: str) -> str:
    """The error message rendered under a field (linked to it by aria-describedby)."""
    assert f'aria-describedby="{field}-erreur"' in html, f"{field} is not marked invalid"
    match = re.search(rf'<p id="{field}-erreur" class="field-message">([^<]*)</p>', html)
    assert match is not None, f"no message under {field}"
    return match.group(1).replace("&#39;", "'")


async def test_statement_sums_paid_per_child_and_only_for_its_family(app: FastAPI, sessions: SessionFactory) -> None:
    """Payments of 2025 are shared over the lines per child; the PDF exists for a past year; 404 elsewhere."""
    mine = add_account(sessions, [("Lina", date(2021, 5, 2)), ("Malo", date(2017, 9, 30))])
    other = add_account(sessions, [("Zoé", date(2022, 1, 1))])
    # 150 €: Lina crèche 100 € + canteen 20 €, Malo centre de loisirs 30 € (Malo was 7 on 01/01/2025)
    lines = [(0, "creche", 10_000), (0, "cantine", 2_000), (1, "centre_loisirs", 3_000)]
    add_paid_invoice(sessions, mine, f"T{mine.id}-2025-01", lines, [
        (9_000, datetime(2025, 3, 20, 10, tzinfo=UTC), PaymentMethod.CARD),
        (6_000, datetime(2025, 12, 31, 23, 30, tzinfo=UTC), PaymentMethod.CHEQUE),  # 1 January 2026 in Paris
    ])  # fmt: skip
    add_paid_invoice(sessions, mine, f"U{mine.id}-2025-03", [(0, "creche", 5_000)],
                     [(5_000, datetime(2025, 5, 2, tzinfo=UTC), PaymentMethod.CREDIT_NOTE)])  # fmt: skip
    add_paid_invoice(sessions, other, f"T{other.id}-2025-01", [(0, "creche", 4_000)],
                     [(4_000, datetime(2025, 6, 2, tzinfo=UTC), PaymentMethod.CARD)])  # fmt: skip
    ref, other_ref = f"AF-2025-{mine.ref}", f"AF-2025-{other.ref}"

    family, _ = browser(app, mine)
    async with family:
        years = (await family.get("/api/family/statements")).json()
        assert [(y["ref"], y["total_paid_cents"], y["complete"]) for y in years] == [
            (f"AF-2026-{mine.ref}", 6_000, False),
            (ref, 9_000, True),
        ]
        statement = (await family.get(f"/api/family/statements/{ref}")).json()
        # 90 € over 150 € of lines: 60 € crèche + 12 € canteen for Lina, 18 € centre de loisirs for Malo
        children = [(c["first_name"], c["paid_cents"], c["childcare_cents"], c["tax_credit_eligible"])
                    for c in statement["children"]]  # fmt: skip
        assert children == [("Malo", 1_800, 1_800, False), ("Lina", 7_200, 6_000, True)]
        assert statement["total_paid_cents"] == 9_000 and statement["childcare_eligible_cents"] == 6_000
        assert statement["pdf_available"] is True

        page = await family.get(f"/famille/attestations/{ref}")
        assert page.status_code == 200
        assert re.search(r'id="total-garde">60,00\xa0€<', page.text) or 'id="total-garde">60,00 €<' in page.text
        assert f'href="/famille/attestations/{ref}/pdf"' in page.text
        listing = await family.get("/famille/attestations")
        assert f'href="/famille/attestations/{ref}"' in listing.text and "Année en cours" in listing.text

        pdf = await family.get(f"/famille/attestations/{ref}/pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.headers["content-disposition"] == 'attachment; filename="attestation-frais-de-garde-2025.pdf"'
        assert (await family.get(f"/api/family/statements/{ref}/pdf")).content == pdf.content

        # the year still running has sums but no attestation yet
        current = await family.get(f"/famille/attestations/AF-2026-{mine.ref}")
        assert "sera disponible à partir du 1er janvier 2027" in current.text
        assert (await family.get(f"/api/family/statements/AF-2026-{mine.ref}/pdf")).status_code == 409

        # another family's statement answers exactly like a missing one, on every route
        for url in (f"/api/family/statements/{other_ref}", f"/api/family/statements/{other_ref}/pdf"):
            foreign, missing = await family.get(url), await family.get(url.replace(other.ref, "FA-999999"))
            assert foreign.status_code == missing.status_code == 404 and foreign.json() == missing.json()
        for url in (f"/famille/attestations/{other_ref}", f"/famille/attestations/{other_ref}/pdf"):
            foreign = await family.get(url)
            assert foreign.status_code == 404 and "Zoé" not in foreign.text and "%PDF" not in foreign.text
        assert (await family.get("/famille/attestations/n-importe-quoi")).status_code == 404


async def test_mandate_validates_the_iban_next_to_the_field_and_shows_it_masked(
    app: FastAPI, sessions: SessionFactory, stripe_client: stripe.StripeClient
) -> None:
    """A bad IBAN is refused next to its field; a forged form is refused; a signed mandate shows its RUM."""
    account = add_account(sessions, [("Lina", date(2021, 5, 2))])
    family, csrf = browser(app, account)
    async with family:
        page = await family.get("/famille/mandat")
        assert page.status_code == 200 and 'id="etat-mandat">Aucun mandat<' in page.text
        assert 'value="Camille Testattestation"' in page.text  # the payer, proposed as holder

        bad = await family.post(
            "/famille/mandat", data={"csrf": csrf, "holder": "Camille Test", "iban": BAD_CHECK_DIGITS_IBAN}
        )
        assert bad.status_code == 422
        assert error_next_to(bad.text, "iban") == (
            "Cet IBAN n'est pas valide (clé de contrôle incorrecte) : vérifiez-le sur votre RIB."
        )
        assert 'aria-describedby="holder-erreur"' not in bad.text
        short = await family.post("/famille/mandat", data={"csrf": csrf, "holder": "", "iban": "FR14 2004"})
        assert error_next_to(short.text, "iban") == "Un IBAN FR compte 27 caractères ; vous en avez saisi 8."
        assert "nom du titulaire" in error_next_to(short.text, "holder")
        outside = await family.post(
            "/famille/mandat", data={"csrf": csrf, "holder": "C T", "iban": "US12 3456 7890 1234"}
        )
        assert "zone SEPA" in error_next_to(outside.text, "iban")

        forged = await family.post("/famille/mandat", data={"csrf": "forged", "holder": "Camille", "iban": GOOD_IBAN})
        assert forged.status_code == 403
        forged_confirm = await family.post("/famille/mandat/confirmation",
                                           data={"csrf": "forged", "setup_intent_id": "seti_x"})  # fmt: skip
        assert forged_confirm.status_code == 403

        sign = await family.post("/famille/mandat", data={"csrf": csrf, "holder": "Camille  Test", "iban": GOOD_IBAN})
        assert sign.status_code == 200 and 'id="iban-a-signer">FR•• •••• •••• •••• 2606<' in sign.text
        secret = re.search(r'data-secret="([^"]+)"', sign.text).group(1)  # type: ignore[union-attr]
        seti = secret.split("_secret_")[0]

        # what Stripe.js does in the browser (the e2e test drives the real page)
        stripe_client.v1.setup_intents.confirm(seti, params={"payment_method_data": {
            "type": "sepa_debit", "sepa_debit": {"iban": GOOD_IBAN.replace(" ", "")},
            "billing_details": {"name": "Camille Test"}}})  # fmt: skip
        done = await family.post("/famille/mandat/confirmation", data={"csrf": csrf, "setup_intent_id": seti})
        assert done.status_code == 303 and done.headers["location"] == "/famille/mandat?enregistre=1"

        with sessions() as s:
            row = s.get_one(FamilyAccount, account.id)
            assert row.mandate_status is MandateStatus.active and row.stripe_payment_method_id
            reference = mandate_reference(account.ref, row.stripe_payment_method_id)
        shown = await family.get("/famille/mandat?enregistre=1")
        assert 'id="etat-mandat">Mandat actif<' in shown.text
        assert f'id="reference-mandat">{reference}<' in shown.text
        assert 'id="iban-masque">•••• •••• •••• 2606<' in shown.text
        assert "20041010050500013M02606" not in shown.text and "2004 1010" not in shown.text
        assert (await family.get("/api/family/mandate")).json() == {
            "status": "active", "reference": reference, "iban_masked": "•••• •••• •••• 2606"}  # fmt: skip

        # a SetupIntent that the bank did not confirm records nothing
        other_account = add_account(sessions, [("Zoé", date(2022, 1, 1))])
        other, other_csrf = browser(app, other_account)
        async with other:
            stolen = await other.post(
                "/famille/mandat/confirmation", data={"csrf": other_csrf, "setup_intent_id": seti}
            )
            assert stolen.status_code == 422 and "pas été confirmé" in stolen.text
        with sessions() as s:
            assert s.get_one(FamilyAccount, other_account.id).mandate_status is MandateStatus.none
