"""Every page of the site, for every role allowed to open it: axe-core at 360 and 1280 px, no sideways scroll.

The pages are discovered from the app's own routes: a GET route outside the JSON prefixes must be either in
PAGES (who may open it, and how its path parameters are filled from the demo data the test builds) or in
NOT_PAGES (what it answers instead of a page). A new page missing from both fails the test, so it cannot escape
the accessibility check. The page count per role is printed (-s) and written to test-artifacts/a11y-pages.txt.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.security import SESSION_COOKIE, Principal, TokenSigner
from domain.periods import period_from_key
from domain.referrals import ReferralState
from domain.statement import statement_ref
from tests.api.authorization_matrix import RouteRule, route_rules
from tests.e2e.audit_world import running_campaign, seed_campaign
from tests.e2e.conftest import ROOT, SHOTS, add_user, issue
from tests.e2e.test_family_sepa_statement import paid_in_2025
from tests.e2e.test_partner_pages import link_from_email, refer_family, referral, seed_referrals
from tests.workflows.conftest import BillingWorld, eventually, running_worker
from ville.models.people import Role, UserAccount
from ville.settings import Settings

PERIOD = "2027-03"  # a period no other browser test bills: they share the dev server
ISSUE_DATE = "2027-05-03"
JSON_PREFIXES = ("/api/", "/webhooks/", "/codec/", "/static/")
REPORT = ROOT / "test-artifacts" / "a11y-pages.txt"
PHONE, DESKTOP = 360, 1280
# the card field belongs to the payment provider (Stripe's own iframe in production), not to our pages
EXCLUDE = ["#carte-element"]

# who opens the pages: the demo users the test signs in as (the partner also follows its e-mail's link)
ANONYMOUS, FAMILY, INSPECTOR = "anonyme", "famille", "inspecteur"
PARTNER_LINK, PARTNER, AGENT, COORDINATOR = "partenaire (lien)", "partenaire", "agent RIF", "coordination RIF"
BILLING, OPERATOR, QUALITY = "facturation", "exploitation", "qualité"
CONSOLE = (OPERATOR, BILLING, QUALITY)


@dataclass
class Demo:
    """What the pages' path parameters are filled from."""

    invoice: str
    statement: str
    task_id: int
    partner_link: str
    case_ref: str
    simulation: str = ""


@dataclass(frozen=True)
class PageSpec:
    """Who may open a page, its URL filled from the demo, and the name of its screenshots (if any)."""

    who: tuple[str, ...]
    url: Callable[[Demo], str]
    shot: str = ""


def fixed(path: str) -> Callable[[Demo], str]:
    """The URL of a page without parameters."""
    return lambda _: path


PAGES: dict[str, PageSpec] = {
    "/": PageSpec((ANONYMOUS,), fixed("/")),
    "/connexion": PageSpec((ANONYMOUS,), fixed("/connexion")),
    "/deconnexion": PageSpec((ANONYMOUS, FAMILY), fixed("/deconnexion")),
    "/famille/factures": PageSpec((FAMILY,), fixed("/famille/factures")),
    "/famille/factures/{number}": PageSpec((FAMILY,), lambda d: f"/famille/factures/{d.invoice}", "famille-facture"),
    "/famille/paiements": PageSpec((FAMILY,), fixed("/famille/paiements")),
    "/famille/preferences": PageSpec((FAMILY,), fixed("/famille/preferences")),
    "/famille/mandat": PageSpec((FAMILY,), fixed("/famille/mandat")),
    "/famille/attestations": PageSpec((FAMILY,), fixed("/famille/attestations")),
    "/famille/attestations/{ref}": PageSpec((FAMILY,), lambda d: f"/famille/attestations/{d.statement}"),
    "/inspecteur/missions": PageSpec((INSPECTOR,), fixed("/inspecteur/missions")),
    "/inspecteur/missions/{task_id}": PageSpec((INSPECTOR,), lambda d: f"/inspecteur/missions/{d.task_id}"),
    "/partenaire/orientation": PageSpec((PARTNER_LINK,), lambda d: d.partner_link),
    "/partenaire/orientations": PageSpec((PARTNER,), fixed("/partenaire/orientations")),
    "/rif/dossiers": PageSpec((AGENT, COORDINATOR), fixed("/rif/dossiers")),
    "/rif/dossiers/nouveau": PageSpec((AGENT,), fixed("/rif/dossiers/nouveau")),
    "/rif/dossiers/{ref}": PageSpec((AGENT, COORDINATOR), lambda d: f"/rif/dossiers/{d.case_ref}"),
    "/operateur": PageSpec(CONSOLE, fixed("/operateur"), "operateur-console"),
    "/operateur/accueil": PageSpec(CONSOLE, fixed("/operateur/accueil")),
    "/operateur/workflows": PageSpec(CONSOLE, fixed("/operateur/workflows")),
    "/operateur/factures": PageSpec((OPERATOR, BILLING), fixed(f"/operateur/factures?periode={PERIOD}")),
    "/operateur/taches": PageSpec((OPERATOR, QUALITY), fixed("/operateur/taches?filtre=toutes")),
    "/operateur/orientations": PageSpec((OPERATOR,), fixed("/operateur/orientations")),
    "/operateur/journal": PageSpec((OPERATOR, BILLING), fixed("/operateur/journal")),
    "/operateur/notifications": PageSpec((OPERATOR, BILLING), fixed("/operateur/notifications")),
    "/operateur/simulations": PageSpec((OPERATOR, BILLING), fixed("/operateur/simulations")),
    "/operateur/simulations/{ref}": PageSpec((OPERATOR, BILLING), lambda d: f"/operateur/simulations/{d.simulation}"),
    "/operateur/cycles/nouveau": PageSpec((OPERATOR, BILLING), fixed("/operateur/cycles/nouveau")),
    "/operateur/paiements": PageSpec((OPERATOR, BILLING), fixed("/operateur/paiements")),
    "/operateur/reclamations": PageSpec((OPERATOR, BILLING), fixed("/operateur/reclamations")),
    "/operateur/echeanciers": PageSpec((OPERATOR, BILLING), fixed("/operateur/echeanciers")),
}
# GET routes outside the JSON prefixes that answer something else than a page of ours
NOT_PAGES: dict[str, str] = {
    "/healthz": "JSON: liveness",
    "/readyz": "JSON: readiness",
    "/metrics": "Prometheus text",
    "/openapi.json": "JSON: the API's schema",
    "/docs": "Swagger UI: documentation of the JSON API",
    "/auth/callback": "redirect: opens the session of a magic link",
    "/auth/oidc/login": "redirect to the identity provider",
    "/auth/oidc/callback": "redirect: opens the session of an OIDC sign-in",
    "/exploitation": "redirect to /operateur",
    "/partenaire/orientations/{ref}": "redirect to the referral's answer page (/partenaire/orientation)",
    "/famille/factures/{number}/pdf": "PDF",
    "/famille/attestations/{ref}/pdf": "PDF",
    "/operateur/simulations/{ref}/graphique.svg": "SVG image shown in the simulation page",
}
NOT_FOUND_SHOT = "page-introuvable"


ROLE_OF = {
    FAMILY: Role.family,
    INSPECTOR: Role.inspector,
    PARTNER: Role.partner,
    AGENT: Role.rif_agent,
    COORDINATOR: Role.coordinator,
    BILLING: Role.billing_operator,
    OPERATOR: Role.operator,
    QUALITY: Role.quality_team,
}


def get_routes(app: FastAPI) -> dict[str, RouteRule]:
    """The app's GET routes outside the JSON prefixes, with who they admit (read from the handlers' guards)."""
    return {r.path: r for r in route_rules(app) if r.method == "GET" and not (r.path + "/").startswith(JSON_PREFIXES)}


def mapping_problems(routes: dict[str, RouteRule]) -> list[str]:
    """Routes missing from PAGES/NOT_PAGES, stale entries, and pages whose roles here differ from the guard's."""
    problems = [
        f"{p}: no role nor parameters in PAGES (add it)"
        for p in sorted(routes.keys() - PAGES.keys() - NOT_PAGES.keys())
    ]
    problems += [f"{p}: no longer a route" for p in sorted((PAGES.keys() | NOT_PAGES.keys()) - routes.keys())]
    for path, spec in PAGES.items():
        rule = routes.get(path)
        if rule is None:
            continue
        if rule.kind == "public":
            if not {ANONYMOUS, PARTNER_LINK} & set(spec.who):
                problems.append(f"{path}: public, but no anonymous visit")
        elif {ROLE_OF[w] for w in spec.who if w in ROLE_OF} != rule.roles - {Role.admin}:
            problems.append(f"{path}: checked for {spec.who}, admits {sorted(rule.roles - {Role.admin})}")
    return problems


def test_every_page_route_is_mapped_to_its_roles(tmp_path: Path) -> None:
    """Each GET route is either a page checked below (with its roles) or declared as something else."""
    settings = Settings(env="test", database_url=f"sqlite:///{tmp_path / 'routes.db'}", _env_file=None)
    routes = get_routes(create_app(settings, temporal=None))  # only the routes are read: nothing is connected
    assert mapping_problems(routes) == []
    assert len(routes.keys() & PAGES.keys()) >= 27


def _user(world: BillingWorld, email: str, name: str, role: Role, relay_id: int | None = None) -> int:
    with world.sessions() as s:
        user = UserAccount(email=email, display_name=name, role=role, relay_id=relay_id)
        s.add(user)
        s.commit()
        assert user.id is not None
        return user.id


async def _signed_in(browser: Browser, world: BillingWorld, site: str, user_id: int | None) -> BrowserContext:
    """A browser (default en-US locale: users' browsers vary) holding the session a sign-in would give."""
    context = await browser.new_context(viewport={"width": DESKTOP, "height": 900})
    context.set_default_timeout(30_000)
    if user_id is not None:
        with world.sessions() as s:
            principal = Principal.of(s.get_one(UserAccount, user_id))
        token = TokenSigner(world.settings.session_keys).session_token(principal)
        await context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": site}])
    return context


async def audit_page(page: Page, axe: str, shot: str = "") -> list[str]:
    """Serious/critical axe violations at both widths, and the page's sideways overflow on a phone."""
    await page.evaluate(axe)
    problems: list[str] = []
    for width in (PHONE, DESKTOP):
        await page.set_viewport_size({"width": width, "height": 900})
        result = await page.evaluate(
            "async (exclude) => await axe.run({include: [document], exclude: exclude.map(s => [s])}, "
            "{resultTypes: ['violations']})",
            EXCLUDE,
        )
        problems += [
            f"{width}px {v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if width == PHONE:
            wide = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            if wide[0] > wide[1]:
                problems.append(f"{width}px: the page scrolls sideways ({wide[0]} px wide)")
        if shot:
            SHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SHOTS / f"{shot}-{width}.png"), full_page=True)
    return problems


async def start_simulation(page: Page, site: str) -> str:
    """A billing operator simulates the grid in force on the period; the reference of its result page."""
    await page.goto(f"{site}/operateur/simulations")
    await page.locator(f"#periode-{PERIOD}").check()
    await page.get_by_role("button", name="Lancer la simulation").click()
    await page.wait_for_url(re.compile(r"/operateur/simulations/[^/?]+$"))
    ref = page.url.rsplit("/", 1)[-1]

    async def done() -> bool:
        await page.goto(f"{site}/operateur/simulations/{ref}")
        return await page.get_by_role("table", name="Par tranche de quotient familial").count() == 1

    await eventually(done, timeout=120)
    return ref


async def test_every_page_passes_axe_for_every_role(
    billing_world: BillingWorld, local_env: WorkflowEnvironment, site: str, browser: Browser, axe_source: str
) -> None:
    """0 serious/critical axe violations at 360 and 1280 px and no sideways scroll at 360 px, on every page."""
    world, client = billing_world, local_env.client
    assert mapping_problems(get_routes(create_app(world.settings))) == []  # a page nobody maps cannot escape the check

    family = world.add_family("Pages", {"cantine": (0, 1, 3, 4)}, period_from_key(PERIOD))
    add_user(world, family, "pages@familles.example")
    paid_in_2025(world, family)
    audit = seed_campaign(world)
    rw = seed_referrals(world)
    with world.sessions() as s:
        ids = {
            FAMILY: s.exec(select(UserAccount.id).where(UserAccount.email == "pages@familles.example")).one(),
            PARTNER: s.exec(select(UserAccount.id).where(UserAccount.email == rw.partner_user_email)).one(),
        }
    ids |= {
        ANONYMOUS: None,
        PARTNER_LINK: None,
        INSPECTOR: audit.inspectors[0].user_id,
        QUALITY: audit.quality_user_id,
        AGENT: rw.agent.user_id,
        COORDINATOR: _user(world, "coordination@paris.example", "Coordination RIF", Role.coordinator,
                           relay_id=rw.agent.relay_id),
        BILLING: _user(world, "facturation@paris.example", "Claude Facturation", Role.billing_operator),
        OPERATOR: _user(world, "exploitation-pages@paris.example", "Dominique Exploitation", Role.operator),
    }  # fmt: skip
    problems: dict[str, list[str]] = {}
    count: dict[str, int] = {who: 0 for who in ids}

    async with running_worker(client, world), running_campaign(client, world, audit):
        await issue(client, world, PERIOD, ISSUE_DATE)
        case_ref, (ref, _) = await refer_family(site, world, rw)
        await eventually(lambda: referral(world, ref).status == ReferralState.OPEN)
        demo = Demo(
            invoice=world.invoice_of(family, PERIOD).number,
            statement=statement_ref(2025, family.ref),
            task_id=audit.task_of(world, audit.inspectors[0]).id or 0,
            partner_link=(await link_from_email(world, site, ref)).removeprefix(site),
            case_ref=case_ref,
        )
        for who, user_id in ids.items():
            context = await _signed_in(browser, world, site, user_id)
            page = await context.new_page()
            if who == BILLING:
                demo.simulation = await start_simulation(page, site)
            for path, spec in PAGES.items():
                if who not in spec.who:
                    continue
                url = spec.url(demo)
                response = await page.goto(f"{site}{url}")
                assert response is not None and response.status == 200, f"{who} {url}: {response and response.status}"
                assert page.url == f"{site}{url}", f"{who} {url}: sent to {page.url}"
                found = await audit_page(page, axe_source, spec.shot if who in (FAMILY, OPERATOR) else "")
                if found:
                    problems[f"{who} {path}"] = found
                count[who] += 1
            if who == FAMILY:  # the French « Page introuvable » of a page path
                response = await page.goto(f"{site}/famille/factures/FF-0000-INCONNUE")
                assert response is not None and response.status == 404
                await expect(page.get_by_role("heading", level=1)).to_have_text("Page introuvable")
                if found := await audit_page(page, axe_source, NOT_FOUND_SHOT):
                    problems[f"{who} 404"] = found
            await context.close()

    summary = "\n".join(
        [f"Pages checked by axe-core at {PHONE} and {DESKTOP} px, per role ({len(PAGES)} page routes):"]
        + [f"  {who}: {n}" for who, n in count.items()]
        + [f"  total: {sum(count.values())} (page, role) pairs, plus one 404 page"]
    )
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(summary + "\n")
    print(summary)  # noqa: T201 -- the page count per role, shown with -s
    assert all(count[who] > 0 for who in count), summary
    assert {p for spec in PAGES.values() for p in spec.who} <= count.keys()
    assert problems == {}, f"{summary}\n{problems}"
