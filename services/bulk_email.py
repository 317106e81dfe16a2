"""E-mails sent in bulk through SES (`SendBulkTemplatedEmail`), and the marking of each message once accepted.

The notifier renders every message itself (Jinja, French); SES gets one generic stored template whose subject
and text part are two variables, so one request carries up to 50 fully rendered messages instead of one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import bindparam, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from ville.models.billing import Notification

log = structlog.get_logger(__name__)

# What the notifier answers when SES/SNS failed or did not answer: unlike an unreachable person, worth retrying.
PROVIDER_UNAVAILABLE = "\x00unavailable"
# SES's limit of destinations per SendBulkTemplatedEmail request.
BULK_CHUNK = 50
# Below this many e-mails in one call, each goes by its own request: the gain is small, and each message is then
# marked the moment SES accepted it (the narrowest window for a crash to re-send something).
BULK_MIN = 10
# Versioned: a change of the template's shape gets a new name, never an edit under senders already running.
SES_TEMPLATE = "ville-message-v1"
_TEMPLATE = {"TemplateName": SES_TEMPLATE, "SubjectPart": "{{subject}}", "TextPart": "{{body}}"}
_DEFAULT_DATA = json.dumps({"subject": "", "body": ""})

# prebuilt: executed once per message sent (a statement built per call spends its time on its cache key)
_MARK_SENT = update(Notification).where(col(Notification.key) == bindparam("k"))
_MARK_SENT_NOW = _MARK_SENT.values(status="sent", provider_id=bindparam("pid"))
_MARK_SENT_AT = _MARK_SENT.values(status="sent", provider_id=bindparam("pid"), sent_at=bindparam("at"))


def accepted(provider_id: str | None) -> bool:
    """Whether a delivery attempt's outcome is a message the provider took."""
    return provider_id is not None and provider_id != PROVIDER_UNAVAILABLE


class SentMarker:
    """Marks each message "sent" the moment its provider accepted it, so that a crash can re-send only the
    messages in flight (SES takes no idempotency key), not every message of the batch sent before them.

    One connection for the batch, shared by the sending threads under a lock: a session and a transaction per
    message from eight threads cost the billing cycle 30 % of its throughput (fighting over SQLite's lock).
    """

    def __init__(self, engine: Engine, sent_at: datetime | None) -> None:
        self.conn = engine.connect()
        self.lock = threading.Lock()
        self.sent_at = sent_at

    def __enter__(self) -> SentMarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()

    def after(self, key: str, provider_id: str | None) -> str | None:
        """Record a delivery attempt's outcome if it was accepted; returns the provider's id unchanged."""
        self.after_many([(key, provider_id)])
        return provider_id

    def after_many(self, outcomes: Sequence[tuple[str, str | None]]) -> None:
        """Record the accepted messages of one provider request, in one transaction (one per bulk request)."""
        rows: list[dict[str, Any]] = [{"k": k, "pid": pid} for k, pid in outcomes if accepted(pid)]
        if not rows:
            return
        stmt = _MARK_SENT_NOW
        if self.sent_at is not None:
            stmt = _MARK_SENT_AT
            rows = [{**r, "at": self.sent_at} for r in rows]
        with self.lock:
            self.conn.execute(stmt, rows)
            self.conn.commit()


@dataclass(frozen=True)
class Rendered:
    """One e-mail ready to go: its notification key, address, subject and text."""

    key: str
    to: str
    subject: str
    body: str


class BulkEmailSender:
    """SES `SendBulkTemplatedEmail` with the generic template, created once per sender (idempotently)."""

    def __init__(self, ses: Any, source: str) -> None:
        self.ses = ses
        self.source = source
        self._ready = False
        self._lock = threading.Lock()

    def ensure_template(self) -> None:
        """Create the generic template unless it exists (another process or an earlier run made it)."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            try:
                self.ses.create_template(Template=_TEMPLATE)
            except Exception as err:
                if _error_code(err) != "AlreadyExists":
                    raise
            self._ready = True

    def send(self, chunk: Sequence[Rendered]) -> list[tuple[str, str | None]]:
        """(key, provider id) of each message of one request of at most 50; PROVIDER_UNAVAILABLE where SES did not
        take it (the whole request when it failed), so that the activity retries only those."""
        try:
            self.ensure_template()
            resp = self.ses.send_bulk_templated_email(
                Source=self.source,
                Template=SES_TEMPLATE,
                DefaultTemplateData=_DEFAULT_DATA,
                Destinations=[
                    {
                        "Destination": {"ToAddresses": [m.to]},
                        "ReplacementTemplateData": json.dumps({"subject": m.subject, "body": m.body}),
                    }
                    for m in chunk
                ],
            )
        except Exception as err:
            if _error_code(err) == "TemplateDoesNotExist":
                self._ready = False  # SES lost it (an emulator restarted): the retry creates it again
            # logged without addresses; the activity raises so that Temporal sends these keys again
            log.warning("notification.bulk_failed", count=len(chunk), error=type(err).__name__)
            return [(m.key, PROVIDER_UNAVAILABLE) for m in chunk]
        statuses: list[dict[str, Any]] = list(resp.get("Status", []))
        out: list[tuple[str, str | None]] = []
        for i, m in enumerate(chunk):
            # one status per destination, in order; "Status" absent (moto) or "Success" means accepted
            st = statuses[i] if i < len(statuses) else {}
            if st.get("MessageId") and st.get("Status", "Success") == "Success":
                out.append((m.key, str(st["MessageId"])))
            else:
                log.warning("notification.failed", key=m.key, channel="email", error=str(st.get("Status", "missing")))
                out.append((m.key, PROVIDER_UNAVAILABLE))
        return out


def chunks(messages: Sequence[Rendered], size: int = BULK_CHUNK) -> list[Sequence[Rendered]]:
    """The messages cut into requests of at most `size`."""
    return [messages[i : i + size] for i in range(0, len(messages), size)]


def _error_code(err: Exception) -> str | None:
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None
