"""Schemathesis against the app's OpenAPI schema, in-process (ASGI): no 500, responses as documented.

Run once anonymously (every operation but the public ones must answer 401) and once per role on the
operations that role may call, with all of schemathesis' checks, positive and negative data, a fixed
derandomized seed and a small example budget so that CI is stable and quick.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
import structlog
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from sqlmodel import select
from temporalio.client import Client

from api.app import create_app
from api.security import Principal
from tests.accounts import session_token
from tests.api.authorization_matrix import ROLES, RouteRule, route_rules
from tests.api.test_authorization_matrix import _seed_audit, _seed_billing, _seed_referral
from tests.conftest import Databases
from ville.db import SessionFactory, make_engine
from ville.models.people import Role, UserAccount
from ville.models.referrals import RifRelay
from ville.settings import Settings

log = structlog.get_logger(__name__)

EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 4}
ANONYMOUS_EXAMPLES = 3


def _settings(max_examples: int) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


# a schema-valid request may still break a business rule (a period already billed, an unknown site in the body):
# the API answers those with the 422 envelope naming the field (CONVENTIONS.md); `_fastapi_rejection` below
# still fails a positive case that FastAPI itself refuses, i.e. a schema that promises more than the API takes
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]


def load_schema(app: FastAPI, token: str | None = None) -> schemathesis.BaseSchema:
    """The app's OpenAPI schema, in-process, with every check on and the session given to schemathesis' auth."""
    config: dict[str, Any] = {
        "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES}},
        "operations": [
            {
                # Temporal's remote-codec protocol: well-formed payloads that do not decrypt answer 400
                "include-path-regex": "^/codec/",
                "checks": {"positive_data_acceptance": {"expected-statuses": [*POSITIVE_STATUSES, "400"]}},
            },
            {
                # live progress is a query to the campaign's workflow: the test stack runs no worker, so a campaign
                # started during the run answers the documented 503 after the query's 5 s bound (never a hang)
                "include-path": "/api/qualiparis/campaigns/{campaign_id}/progress",
                "checks": {
                    "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]},
                    "positive_data_acceptance": {"expected-statuses": [*POSITIVE_STATUSES, "503"]},
                },
            },
            {
                # a multipart file part carries bytes whatever JSON type the generator picked for it: a "wrong
                # type" file is still a file on the wire, so this check cannot tell a negative case from a valid one
                "include-path-regex": "^/api/attendance/csv$",
                "checks": {"negative_data_rejection": {"enabled": False}},
            },
        ],
    }
    if token is not None:
        # OpenAPI-aware auth: schemathesis sends the session, and still tries each operation without it
        config["auth"] = {"openapi": {"session": {"bearer": token}}}
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=schemathesis.Config.from_dict(config))


@pytest.fixture
def schema(app: FastAPI) -> schemathesis.BaseSchema:
    """The app's schema, anonymous."""
    return load_schema(app)


@pytest.fixture(scope="module")
def fuzz_settings(settings: Settings, databases: Databases) -> Settings:
    """A database and a task queue of its own: what the fuzzer creates (campaigns, cases, cycles started with
    no worker on their queue) never reaches another test's assertions or workers."""
    url = databases.create("schemathesis")  # SQLite or PostgreSQL, as DB says
    return settings.model_copy(update={"database_url": url, "task_queue": f"schemathesis-{uuid.uuid4().hex[:8]}"})


@pytest.fixture
def app(fuzz_settings: Settings, temporal_client: Client) -> FastAPI:
    """The app on the fuzzer's own database and task queue (overrides tests/api/conftest.py's)."""
    return create_app(fuzz_settings, temporal=temporal_client)


@pytest.fixture(scope="module")
def fuzz_sessions(fuzz_settings: Settings) -> SessionFactory:
    """Sessions on the fuzzer's database."""
    return SessionFactory(make_engine(fuzz_settings.database_url))


@pytest.fixture
def principals(fuzz_sessions: SessionFactory) -> dict[Role, Principal]:
    """One stored user per role, scoped to records that exist (a family account with an invoice, a task...)."""
    tag = uuid.uuid4().hex[:6].upper()
    family_account, _, _, _, _ = _seed_billing(fuzz_sessions, tag)
    _, inspector, _ = _seed_audit(fuzz_sessions, tag)
    _, partner_org, _ = _seed_referral(fuzz_sessions, tag)
    with fuzz_sessions() as s:
        relay = s.exec(select(RifRelay).where(RifRelay.code == f"R{tag}")).one()
        scopes: dict[Role, dict[str, Any]] = {
            Role.family: {"family_account_id": family_account},
            Role.inspector: {"inspector_id": inspector},
            Role.partner: {"partner_org_id": partner_org},
            Role.rif_agent: {"relay_id": relay.id},
            Role.coordinator: {"relay_id": relay.id},
        }
        users = {
            role: UserAccount(
                email=f"st-{role.value}-{tag}@test.fr".lower(),
                display_name=role.value,
                role=role,
                **scopes.get(role, {}),
            )
            for role in ROLES
        }
        s.add_all(users.values())
        s.commit()
        return {role: Principal.of(user) for role, user in users.items()}


def _operations(schema: schemathesis.BaseSchema) -> Iterator[Any]:
    for result in schema.get_all_operations():
        # an operation schemathesis cannot read is a broken schema: fail loudly, never skip it
        assert isinstance(result, Ok), f"invalid operation in the OpenAPI document: {result}"
        yield result.ok()


def _rules(app: FastAPI) -> dict[tuple[str, str], RouteRule]:
    return {(r.method, r.path): r for r in route_rules(app)}


def _fastapi_rejection(case: schemathesis.Case, response: Any) -> str | None:
    """A positive case refused by FastAPI's own validation: the schema and the API disagree."""
    if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE or response.status_code != 422:
        return None
    body = response.json()
    if body.get("error", {}).get("message") != "Données invalides":  # the RequestValidationError handler's text
        return None
    return f"{case.method} {case.operation.path} (positive) valid per schema, refused by FastAPI: {body['error']}"


def _fuzz(operation: Any, mode: GenerationMode, max_examples: int) -> list[str]:
    """Run one operation; the failure reports (empty when all checks hold)."""
    failures: list[str] = []  # several examples often break one rule the same way: reported once below

    @_settings(max_examples)
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        try:
            response = case.call()
        except Exception as exc:  # the app raised: the client would have had a 500
            failures.append(f"{case.method} {case.formatted_path} ({mode.value}): 500 {type(exc).__name__}: {exc}")
            return
        if (rejected := _fastapi_rejection(case, response)) is not None:
            failures.append(rejected)
        try:
            case.validate_response(response)
        except FailureGroup as group:
            for failure in group.exceptions:
                detail = " ".join(str(failure.message).split())[:300]
                answer = f"[{response.status_code}] {' '.join(response.text.split())[:160]}"
                failures.append(f"{case.method} {operation.path} ({mode.value}) {failure.title}: {detail} {answer}")

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # nothing to make invalid (no parameter, no body): the negative mode has no case for this operation
        assert mode is GenerationMode.NEGATIVE
    return failures


def _anonymous(operation: Any, rule: RouteRule) -> list[str]:
    """Call one operation without a session; what went wrong."""
    failures: list[str] = []

    @_settings(ANONYMOUS_EXAMPLES)
    @hypothesis.given(case=operation.as_strategy())
    def run(case: schemathesis.Case) -> None:
        response = case.call()
        if rule.kind != "public" and response.status_code != 401:
            failures.append(f"{case.method} {case.formatted_path}: {response.status_code} without a session")
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

    run()
    return failures


def test_anonymous_calls_are_refused_except_public_routes(app: FastAPI, schema: schemathesis.BaseSchema) -> None:
    rules = _rules(app)
    failures: list[str] = []
    for operation in _operations(schema):
        started = time.perf_counter()
        failures += _anonymous(operation, rules[(operation.method.upper(), operation.path)])
        log.info("schemathesis.anonymous", op=operation.label, s=round(time.perf_counter() - started, 2))
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
def test_each_role_meets_the_schema(app: FastAPI, principals: dict[Role, Principal], role: Role) -> None:
    rules = _rules(app)
    schema = load_schema(app, session_token(app, principals[role]))
    failures: list[str] = []
    checked = 0
    for operation in _operations(schema):
        rule = rules[(operation.method.upper(), operation.path)]
        if rule.kind == "public" or not rule.allows(role):
            continue  # refusals are the authorization matrix's business; public routes are fuzzed anonymously
        for mode, n in EXAMPLES.items():
            started = time.perf_counter()
            # admin is admitted everywhere: its run repeats the others', so it gets half the budget
            failures += _fuzz(operation, mode, max(2, n // 2) if role is Role.admin else n)
            log.debug("schemathesis.operation", op=operation.label, mode=mode.value, s=time.perf_counter() - started)
        checked += 1
    assert checked > 0
    assert failures == [], "\n".join(sorted(set(failures)))
