"""Contacts of a batch: one bulk call per recipient kind and IN chunk, the single resolver otherwise."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, cast

import pytest
from sqlmodel import Session

from contracts.delivery import NotificationRequest
from services import notification_registry as reg
from services.notification_registry import Contact, resolve_contacts

SESSION = cast(Session, object())  # the resolvers below read nothing from it


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, Any]]]:
    calls: list[tuple[str, Any]] = []
    monkeypatch.setattr(reg, "RESOLVERS", {})
    monkeypatch.setattr(reg, "BULK_RESOLVERS", {})

    @reg.register_resolver("one")
    def one(s: Session, pid: int) -> Contact | None:
        calls.append(("one", pid))
        return Contact(f"{pid}@one.test", None, f"Un {pid}") if pid != 404 else None

    @reg.register_bulk_resolver("many")
    def many(s: Session, ids: Sequence[int]) -> dict[int, Contact]:
        calls.append(("many", list(ids)))
        return {i: Contact(f"{i}@many.test", None, f"Plusieurs {i}") for i in ids if i != 404}

    yield calls


def _req(key: str, kind: str, pid: int) -> NotificationRequest:
    return NotificationRequest(key, "email", "t", kind, pid, "ref", {})


def test_a_batch_of_one_kind_is_resolved_in_one_call_per_chunk(registry: list[tuple[str, Any]]) -> None:
    requests = [_req(f"k{i}", "many", i) for i in range(1, reg.IN_CHUNK + 3)] + [_req("again", "many", 1)]
    contacts = resolve_contacts(SESSION, requests)
    assert [len(ids) for _, ids in registry] == [reg.IN_CHUNK, 2]  # each person once, bounded IN lists
    assert contacts["k7"] == Contact("7@many.test", None, "Plusieurs 7")
    assert contacts["again"] == contacts["k1"]


def test_kinds_without_a_bulk_resolver_go_one_by_one_and_unknown_people_have_no_contact(
    registry: list[tuple[str, Any]],
) -> None:
    contacts = resolve_contacts(SESSION, [_req("a", "one", 3), _req("b", "many", 404), _req("c", "one", 404)])
    assert contacts == {"a": Contact("3@one.test", None, "Un 3"), "b": None, "c": None}
    assert sorted(registry, key=str) == sorted([("one", 3), ("one", 404), ("many", [404])], key=str)


def test_a_kind_without_any_resolver_is_refused(registry: list[tuple[str, Any]]) -> None:
    with pytest.raises(ValueError, match="no contact resolver"):
        resolve_contacts(SESSION, [_req("x", "nobody", 1)])
