"""Every page, as every role, with demo data, through the real app: no raw code and no English word is visible."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import date
from html.parser import HTMLParser

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert
from sqlmodel import select
from temporalio.client import Client

from api.app import create_app
from api.errors import wants_json
from api.security import Principal
from domain import labels
from domain.payments import PaymentMethod
from stack.bootstrap import migrate
from stack.demo import seed_demo
from tests.api.authorization_matrix import route_rules
from ville.db import SessionFactory, make_engine
from ville.models.billing import Invoice, Notification, Payment, PaymentStatus
from ville.models.people import OperatorAuditLog, Role, UserAccount
from ville.settings import Settings

RAW_CODE = re.compile(r"\b[a-z]+_[a-z_]+\b|\b[a-z]+\.[a-z]+\.[a-z]+\b|\b[A-Za-z]+Workflow\b")
ENGLISH = re.compile(
    r"\b(Running|Completed|Failed|Canceled|Terminated|TimedOut|ContinuedAsNew|pending|paid|succeeded|failed|open|"
    r"accepted|refused|error|Error|declined|draft|issued|overdue|cancelled|refunded|running|done|issuing|dunning|"
    r"Not Found|Forbidden|Internal Server Error)\b"
)
# e-mail addresses and URLs are shown on purpose (dots in them are not codes)
ADDRESS = re.compile(r"\S+@\S+|\w+://\S+")
# <code> marks syntax the operator types on purpose (a JSON key); a <textarea> holds what they typed
HIDDEN = ("script", "style", "template", "textarea", "code")
SKIPPED_PREFIXES = ("/auth", "/docs", "/redoc", "/openapi", "/static", "/metrics", "/healthz", "/readyz")


class _VisibleText(HTMLParser):
    """The text a person reads as words: no <script>, <style>, attributes, form values (<textarea>) nor <code>."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(page: str) -> str:
    """The page's visible text, addresses removed."""
    parser = _VisibleText()
    parser.feed(page)
    return ADDRESS.sub(" ", " ".join(parser.parts))


def offending(text: str) -> list[str]:
    """Raw codes and English words found in a page's visible text."""
    return sorted({m.group(0) for m in RAW_CODE.finditer(text)} | {m.group(0) for m in ENGLISH.finditer(text)})


def page_paths(app: FastAPI, role: Role) -> list[str]:
    """Every GET page `role` may open, without a path parameter (discovered: a new page cannot escape this test)."""
    return [
        r.path
        for r in route_rules(app)
        if r.method == "GET"
        and r.kind in ("page", "public")
        and r.allows(role)
        and "{" not in r.path
        and not wants_json(r.path)
        and not r.path.startswith(SKIPPED_PREFIXES)
    ]


@pytest.fixture(scope="module")
def demo_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The demo's data in a database of its own, plus declined cards, journal entries, a failed message."""
    url = f"sqlite:///{tmp_path_factory.mktemp('french') / 'ville.db'}"
    migrate(url)
    demo = settings.model_copy(update={"database_url": url, "task_queue": f"french-{uuid.uuid4().hex[:8]}"})
    assert seed_demo(demo, families=12, today=date(2026, 12, 7))
    sessions = SessionFactory(make_engine(url))
    with sessions() as s, s.begin():
        family = s.exec(select(UserAccount).where(UserAccount.role == Role.family)).first()
        operator = s.exec(select(UserAccount).where(UserAccount.role == Role.operator)).first()
        assert family is not None and family.family_account_id is not None and operator is not None
        s.execute(
            insert(Invoice).values(
                number="FF-2026-FR0001", account_id=family.family_account_id, period_key="2026-10",
                period_start=date(2026, 10, 1), period_end=date(2026, 10, 31), issue_date=date(2026, 11, 2),
                due_date=date(2026, 12, 28), tranche=3, lines_total_cents=4_200, amount_due_cents=4_200,
            )
        )  # fmt: skip
        invoice_id = s.execute(select(Invoice.id).where(Invoice.number == "FF-2026-FR0001")).scalar_one()  # type: ignore[call-overload]
        for k, (method, status, reason) in enumerate(
            [
                (PaymentMethod.CARD, PaymentStatus.failed, "card_declined"),
                (PaymentMethod.CARD, PaymentStatus.failed, "insufficient_funds"),
                (PaymentMethod.CHEQUE, PaymentStatus.succeeded, None),
                (PaymentMethod.SEPA_DEBIT, PaymentStatus.pending, None),
            ]
        ):
            s.execute(
                insert(Payment).values(
                    key=f"french-{k}", invoice_id=invoice_id, account_id=family.family_account_id, method=method,
                    amount_cents=1_000, status=status, failure_reason=reason,
                )
            )  # fmt: skip
        s.add(
            Notification(
                key="invoice-issued:FF-2026-FR0001", channel="email", template="invoice_issued",
                subject_ref="FF-2026-FR0001", status="failed",
            )
        )  # fmt: skip
        for action in labels.JOURNAL_ACTION:
            s.add(OperatorAuditLog(actor_user_id=operator.id, action=action, target="FF-2026-FR0001", reason="Essai"))
    return demo


@pytest.fixture
async def demo_app(demo_settings: Settings, temporal_client: Client) -> AsyncIterator[FastAPI]:
    """The real app on the demo database."""
    yield create_app(demo_settings, temporal=temporal_client)


def _users(settings: Settings) -> dict[Role, UserAccount]:
    with SessionFactory(make_engine(settings.database_url))() as s:
        users: dict[Role, UserAccount] = {}
        for u in s.exec(select(UserAccount).order_by(UserAccount.id)).all():  # type: ignore[arg-type]
            users.setdefault(u.role, u)
        return users


async def test_no_page_shows_a_raw_code_or_an_english_word(demo_app: FastAPI, demo_settings: Settings) -> None:
    users = _users(demo_settings)
    assert {Role.family, Role.operator, Role.inspector, Role.partner, Role.rif_agent} <= set(users)
    found: dict[str, list[str]] = {}
    scanned: dict[Role, int] = {}
    for role, user in users.items():
        token = demo_app.state.signer.session_token(Principal.of(user))
        transport = httpx.ASGITransport(app=demo_app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as client:
            extra = ["/famille/factures/FF-2026-FR0001"] if role is Role.family else []
            for path in [*page_paths(demo_app, role), *extra]:
                response = await client.get(path)
                if response.status_code != 200 or not response.headers["content-type"].startswith("text/html"):
                    continue
                scanned[role] = scanned.get(role, 0) + 1
                words = offending(visible_text(response.text))
                if words:
                    found[f"{role.value} {path}"] = words
    assert not found, found
    # the pages that carried the codes of issue 15 were read (a redirect would have hidden them)
    assert scanned[Role.family] >= 4 and scanned[Role.operator] >= 5, scanned


def test_the_scanner_catches_what_issue_15_reported() -> None:
    page = (
        "<html><head><style>.a_b{}</style><script>var x_y = 1;</script></head><body title='x_y'>"
        "<p>Refusé — card_declined</p><td>payment.counter.cheque</td><td>NotificationDeliveryWorkflow</td>"
        "<td>Running</td><p>famille1@demo.paris.fr</p></body></html>"
    )
    assert offending(visible_text(page)) == [
        "NotificationDeliveryWorkflow",
        "Running",
        "card_declined",
        "payment.counter.cheque",
    ]
    assert offending(visible_text("<p>Chèque enregistré au guichet — En cours</p>")) == []
