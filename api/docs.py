"""`/docs` served offline under the app's CSP: Swagger UI's assets come from a package, not a CDN.

FastAPI's default page loads Swagger UI from jsDelivr and starts it with an inline script; the CSP
(`script-src 'self'`, no inline) blocks both. Here the assets are the copy shipped in the `fastapi-offline`
wheel (Swagger UI 5, which reads OpenAPI 3.1), mounted under `/docs/assets`, and the start-up code is a
static file. ReDoc is off: its bundle injects `<style>` elements, which `style-src 'self'` refuses.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
SWAGGER_DIR = Path(str(files("fastapi_offline") / "static"))

_PAGE = """<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/static/docs-init.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """Serve `/docs` (Swagger UI) from packaged assets; call on an app built with `docs_url=None`."""
    app.mount(ASSETS, StaticFiles(directory=SWAGGER_DIR), name="docs-assets")
    page = _PAGE.format(title=app.title, assets=ASSETS, openapi_url=app.openapi_url)

    async def swagger_ui(_: Request) -> HTMLResponse:
        """The API's interactive documentation."""
        return HTMLResponse(page)

    app.add_route("/docs", swagger_ui, include_in_schema=False)  # a Starlette route: GET and HEAD, as FastAPI's
