"""Every integer the client names is bounded: ids in paths, limits and offsets in queries (no 500 on 2**63)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from api.deps import DB_ID_MAX
from api.security import Principal
from ville.models.people import Role


def _params(dependant: Dependant) -> list[Any]:
    fields = [*dependant.path_params, *dependant.query_params]
    for sub in dependant.dependencies:
        fields.extend(_params(sub))
    return fields


def _integer_parameters(app: FastAPI) -> list[tuple[str, str, int | None, int | None]]:
    """(route, parameter, lower bound, upper bound) of every int path/query parameter, pages included."""
    found = []
    for ctx in iter_route_contexts(app.routes):
        dependant = getattr(ctx, "dependant", None)
        if dependant is None:
            continue
        for field in _params(dependant):
            if field.field_info.annotation not in (int, int | None):
                continue
            low = high = None
            for m in field.field_info.metadata:
                low = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else low
                low = getattr(m, "gt", None) if getattr(m, "gt", None) is not None else low
                high = getattr(m, "le", None) if getattr(m, "le", None) is not None else high
                high = getattr(m, "lt", None) if getattr(m, "lt", None) is not None else high
            found.append((f"{sorted(ctx.methods or ())} {ctx.path_format}", field.name, low, high))
    return found


def test_every_integer_parameter_has_both_bounds(app: FastAPI) -> None:
    params = _integer_parameters(app)
    assert any(name == "task_id" for _, name, _, _ in params), "page routes are inspected too"
    unbounded = [
        f"{route} {name}: [{low}, {high}]"
        for route, name, low, high in params
        if low is None or high is None or high > DB_ID_MAX
    ]
    assert not unbounded, "unbounded integers:\n" + "\n".join(unbounded)


@pytest.mark.parametrize("value", ["-1", "0", "9223372036854775808", "99999999999999999999999"])
async def test_out_of_range_limits_answer_422_naming_the_field(client_for: Any, value: str) -> None:
    operator = client_for(Principal(user_id=9101, role=Role.operator))
    urls = ["/api/billing/invoices?limit=", "/api/billing/journal?limit="]
    if value != "0":  # offset 0 is the first page
        urls.append("/api/billing/invoices?offset=")
    for url in urls:
        r = await operator.get(url + value)
        assert r.status_code == 422, (url, r.text)
        assert url.rsplit("?", 1)[1].removesuffix("=") in r.text


@pytest.mark.parametrize("value", ["0", "9223372036854775808"])
async def test_out_of_range_page_ids_are_refused_not_500(client_for: Any, value: str) -> None:
    inspector = client_for(Principal(user_id=9102, role=Role.inspector, inspector_id=1))
    for method, url in (("GET", f"/inspecteur/missions/{value}"), ("POST", f"/inspecteur/missions/{value}/accepter")):
        r = await inspector.request(method, url)
        assert r.status_code in {404, 422}, (method, url, r.status_code)
