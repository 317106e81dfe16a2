"""A SEPA mandate needs a `sepa_debit` payment method: a card SetupIntent is refused (issue 16, point 6)."""

from __future__ import annotations

from datetime import date

import httpx
import stripe
from fastapi import FastAPI

from api.security import Principal
from tests.api.test_family_extra_pages import GOOD_IBAN, add_account
from ville.db import SessionFactory
from ville.models.billing import FamilyAccount, MandateStatus
from ville.models.people import Role, UserAccount


async def test_a_card_setup_intent_is_not_a_sepa_mandate(
    app: FastAPI, sessions: SessionFactory, stripe_client: stripe.StripeClient
) -> None:
    """A succeeded card SetupIntent of the family's own customer: 422 naming the field, no mandate recorded."""
    account = add_account(sessions, [("Noé", date(2020, 2, 2))])
    with sessions() as s:  # a real user of the account, signed in with a bearer token (no cookie, no CSRF)
        user = UserAccount(email=f"noe{account.id}@familles.example", display_name="Camille", role=Role.family,
                           family_account_id=account.id)  # fmt: skip
        s.add(user)
        s.commit()
        s.refresh(user)
        token = app.state.signer.session_token(Principal.of(user))
    family = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    async with family:
        setup = await family.post("/api/family/mandate/setup")
        assert setup.status_code == 200, setup.text
        with sessions() as s:
            customer = s.get_one(FamilyAccount, account.id).stripe_customer_id
        card_intent = stripe_client.v1.setup_intents.create(
            params={"customer": customer, "payment_method_types": ["card"], "usage": "off_session"}
        )
        stripe_client.v1.setup_intents.confirm(card_intent.id, params={"payment_method_data": {
            "type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030,
                                     "cvc": "123"}}})  # fmt: skip
        assert stripe_client.v1.setup_intents.retrieve(card_intent.id).status == "succeeded"
        refused = await family.post("/api/family/mandate", json={"setup_intent_id": card_intent.id})
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["fields"][0]["field"] == "body.setup_intent_id" and "SEPA" in error["message"]
        with sessions() as s:
            row = s.get_one(FamilyAccount, account.id)
            assert row.mandate_status is MandateStatus.none and row.stripe_payment_method_id is None

        # the same family with a real SEPA SetupIntent gets its mandate
        secret = setup.json()["client_secret"]
        seti = secret.split("_secret_")[0]
        stripe_client.v1.setup_intents.confirm(seti, params={"payment_method_data": {
            "type": "sepa_debit", "sepa_debit": {"iban": GOOD_IBAN.replace(" ", "")},
            "billing_details": {"name": "Camille Test"}}})  # fmt: skip
        done = await family.post("/api/family/mandate", json={"setup_intent_id": seti})
        assert done.status_code == 200, done.text
        assert done.json()["mandate_status"] == "active"
