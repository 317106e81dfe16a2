"""`/docs` works offline under the app's CSP: Swagger UI from packaged assets, no CDN, no inline script."""

from __future__ import annotations

from playwright.async_api import Page


async def test_docs_render_the_operations_without_csp_violation(site: str, page: Page) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    await page.goto(f"{site}/docs")
    # the operations list is built by Swagger UI from /openapi.json: an operation's path and summary appear
    operation = page.locator(".opblock", has_text="/codec/decode")
    await operation.get_by_text("Decode", exact=True).wait_for()
    assert await page.locator(".opblock").count() > 20
    assert page.csp_violations == []  # type: ignore[attr-defined]
    assert errors == []
    assert failed == []
