"""Evidence rules (pure): formats known by their bytes, size bounds named, keys bound to the task."""

from __future__ import annotations

import pytest

from domain.audit.evidence import (
    EMPTY,
    JPEG,
    MAX_BYTES,
    PDF,
    PNG,
    TOO_BIG,
    content_problem,
    declared_kind,
    evidence_key,
    evidence_prefix,
    foreign_keys,
    size_problem,
    sniff,
)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", JPEG),
        (b"\x89PNG\r\n\x1a\n\x00\x00", PNG),
        (b"%PDF-1.7\n", PDF),
        (b"MZ\x90\x00\x03\x00\x00\x00", None),  # a Windows executable
        (b'<svg xmlns="', None),
        (b"<html><sc", None),
        (b"\xff\xd8 photo", None),  # two bytes of JPEG are not enough
        (b"\x89PNG", None),  # a truncated signature
        (b"", None),
    ],
)
def test_formats_are_known_by_their_first_bytes(head: bytes, kind: object) -> None:
    assert sniff(head) == kind


def test_a_declared_type_must_match_the_bytes() -> None:
    assert content_problem("image/jpeg", b"\xff\xd8\xff\xdb") is None
    assert content_problem("image/png; charset=binary", b"\x89PNG\r\n\x1a\n") is None
    assert content_problem("image/jpeg", b"MZ\x90\x00") == (
        "Contenu refusé : ce fichier n'est ni une photo JPEG ou PNG, ni un PDF."
    )
    assert (
        content_problem("image/png", b"%PDF-1.4") == "Contenu refusé : ce fichier est un PDF, pas un PNG comme annoncé."
    )
    assert content_problem("image/gif", b"%PDF-1.4") == (
        "Contenu refusé : ce fichier est un PDF, pas un image/gif comme annoncé."
    )
    assert declared_kind("IMAGE/JPEG") == JPEG and declared_kind("image/svg+xml") is None


def test_the_size_message_names_the_bound_crossed() -> None:
    assert size_problem(0) == EMPTY and EMPTY.startswith("Fichier vide")
    assert size_problem(1) is None and size_problem(MAX_BYTES) is None
    assert size_problem(MAX_BYTES + 1) == TOO_BIG == "Fichier trop volumineux (10 Mo au plus)."


def test_keys_carry_the_task_prefix_and_no_client_text() -> None:
    key = evidence_key(7, 42, "E01.1", "0123abcd", PNG)
    assert key == "audit/campaign-7/task-42/E01.1/0123abcd.png"
    assert key.startswith(evidence_prefix(7, 42))


def test_keys_outside_the_task_prefix_are_refused_per_criterion() -> None:
    prefix = evidence_prefix(7, 42)
    errors = foreign_keys(
        prefix,
        {
            "E01.1": [f"{prefix}E01.1/a.png"],
            "E02.1": ["audit/campaign-7/task-43/E02.1/b.png"],
            "E03.1": [f"{prefix}E03.1/c.png", "invoices/2026-09/batch-00000001-00000100.zip"],
        },
    )
    assert [e.field for e in errors] == ["evidence.E02.1", "evidence.E03.1"]
    assert errors[0].message.startswith("Preuve du critère E02.1 inconnue")
