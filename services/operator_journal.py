"""Reads of the operators' journal (OperatorAuditLog): the latest actions, and the targets already handled."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlmodel import Session, col, select

from ville.models.people import OperatorAuditLog


def latest(session: Session, limit: int) -> Sequence[OperatorAuditLog]:
    """The journal, newest first."""
    return session.exec(select(OperatorAuditLog).order_by(col(OperatorAuditLog.id).desc()).limit(limit)).all()


def handled(session: Session, actions: Collection[str], targets: Collection[str]) -> set[str]:
    """Those of the targets that already carry one of these actions."""
    return set(
        session.exec(
            select(OperatorAuditLog.target).where(
                col(OperatorAuditLog.action).in_(list(actions)), col(OperatorAuditLog.target).in_(list(targets))
            )
        ).all()
    )
