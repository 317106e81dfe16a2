"""What moto's SES accepted, one entry per e-mail, whether sent alone (`SendEmail`) or in bulk.

moto lists `SendEmail` messages under "Message" and each `SendBulkTemplatedEmail` request once under
"TemplateMessage" (its destinations and their template data): the bulk ones are expanded here, rendered as the
notifier's generic template renders them (subject and body are its two variables).
"""

from __future__ import annotations

import json
from typing import Any

import httpx


def ses_messages(endpoint_url: str) -> list[dict[str, Any]]:
    """Every e-mail moto's SES accepted: id, source, subject, body, destinations."""
    data = httpx.get(f"{endpoint_url}/moto-api/data.json", timeout=10).json().get("ses", {})
    out: list[dict[str, Any]] = list(data.get("Message", []))
    for request in data.get("TemplateMessage", []):
        destinations = request.get("destinations")
        if not isinstance(destinations, list):
            continue  # a single SendTemplatedEmail: the notifier sends none
        default = json.loads(request.get("template_data") or "{}")
        for i, dest in enumerate(destinations):
            values = {**default, **json.loads(dest.get("ReplacementTemplateData") or "{}")}
            out.append(
                {
                    "id": f"{request.get('id')}/{i}",  # moto keeps one id per request; stable per recipient here
                    "source": request.get("source"),
                    "subject": values.get("subject", ""),
                    "body": values.get("body", ""),
                    "destinations": dest.get("Destination", {}),
                }
            )
    return out
