"""Référentiel versions in the database, seeded from the data files shipped in `domain/audit/data`."""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from typing import Any

from sqlmodel import Session, col, select

from domain.audit.referentiel import Referentiel, load_referentiel, select_referentiel
from ville.models.audit import ReferentielVersion


def bundled_documents() -> list[dict[str, Any]]:
    """The référentiel documents shipped with the code (`domain/audit/data/referentiel_*.json`)."""
    folder = resources.files("domain.audit").joinpath("data")
    docs = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith("referentiel_") and entry.name.endswith(".json"):
            docs.append(json.loads(entry.read_text(encoding="utf-8")))
    return docs


def ensure_bundled_referentiels(session: Session) -> list[str]:
    """Insert the shipped versions missing from the database (safe to run twice); their versions."""
    existing = set(session.exec(select(ReferentielVersion.version)).all())
    added = []
    for doc in bundled_documents():
        ref = load_referentiel(doc)  # a broken shipped file must fail loudly, never be stored
        if ref.version not in existing:
            session.add(
                ReferentielVersion(version=ref.version, effective_from=ref.effective_from, data=doc, source="bundled")
            )
            added.append(ref.version)
    if added:
        session.commit()
    return added


def referentiel_document(session: Session, version: str) -> dict[str, Any] | None:
    """The JSON document of a version, or None."""
    row = session.get(ReferentielVersion, version)
    if row is None and ensure_bundled_referentiels(session):
        row = session.get(ReferentielVersion, version)
    return None if row is None else dict(row.data)


def referentiel_in_force(session: Session, on: date) -> Referentiel:
    """The version in force on a day (LookupError when none)."""
    ensure_bundled_referentiels(session)
    rows = session.exec(select(ReferentielVersion).order_by(col(ReferentielVersion.effective_from))).all()
    return select_referentiel([load_referentiel(r.data) for r in rows], on)
