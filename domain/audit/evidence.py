"""Rules for inspectors' evidence files: where they live, what they may contain, how big they may be."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.audit.checklist import FieldError, evidence_field

MIN_BYTES = 1
MAX_BYTES = 10 * 1024 * 1024
MAX_MB = MAX_BYTES // (1024 * 1024)
HEAD_BYTES = 8
"""How many leading bytes `sniff` needs (the longest magic number, PNG's)."""
MAX_FILES_PER_CRITERION = 5


@dataclass(frozen=True)
class EvidenceKind:
    """An accepted file format, known by its first bytes (magic number), never by its name or declared type."""

    content_type: str
    extension: str
    label: str
    magic: bytes


JPEG = EvidenceKind("image/jpeg", "jpg", "JPEG", b"\xff\xd8\xff")
PNG = EvidenceKind("image/png", "png", "PNG", b"\x89PNG\r\n\x1a\n")
PDF = EvidenceKind("application/pdf", "pdf", "PDF", b"%PDF-")
KINDS: dict[str, EvidenceKind] = {k.content_type: k for k in (JPEG, PNG, PDF)}

TYPE_REFUSED = "Format refusé : choisissez une photo JPEG ou PNG, ou un PDF."
EMPTY = "Fichier vide : choisissez une photo ou un document qui contient quelque chose."
TOO_BIG = f"Fichier trop volumineux ({MAX_MB} Mo au plus)."


def evidence_prefix(campaign_id: int, task_id: int) -> str:
    """S3 key prefix of the evidence files of a task; a submission may only cite keys under it."""
    return f"audit/campaign-{campaign_id}/task-{task_id}/"


def evidence_key(campaign_id: int, task_id: int, criterion_code: str, token: str, kind: EvidenceKind) -> str:
    """A new evidence file's key: the task's prefix, the criterion, a token drawn by the server; no client text."""
    return f"{evidence_prefix(campaign_id, task_id)}{criterion_code}/{token}.{kind.extension}"


def declared_kind(content_type: str) -> EvidenceKind | None:
    """The accepted format a client announces, or None when it is not one (the bytes are checked later)."""
    return KINDS.get(content_type.split(";", 1)[0].strip().lower())


def sniff(head: bytes) -> EvidenceKind | None:
    """The format the first bytes of a file show, or None when they match no accepted format."""
    return next((k for k in KINDS.values() if head.startswith(k.magic)), None)


def size_problem(size: int) -> str | None:
    """Which size bound a file crosses (empty, or above 10 MB), in French; None when it fits."""
    if size < MIN_BYTES:
        return EMPTY
    if size > MAX_BYTES:
        return TOO_BIG
    return None


def content_problem(declared: str, head: bytes) -> str | None:
    """Why the first bytes of a file refute its declared format, in French; None when they agree."""
    found = sniff(head)
    if found is None:
        return "Contenu refusé : ce fichier n'est ni une photo JPEG ou PNG, ni un PDF."
    expected = declared_kind(declared)
    if expected is None or expected != found:
        announced = expected.label if expected else declared[:40]
        return f"Contenu refusé : ce fichier est un {found.label}, pas un {announced} comme annoncé."
    return None


def foreign_keys(prefix: str, evidence: Mapping[str, Sequence[str]]) -> list[FieldError]:
    """A problem per criterion citing a key outside the task's own prefix (keys are never taken from elsewhere)."""
    return [
        FieldError(
            evidence_field(code),
            f"Preuve du critère {code} inconnue : déposez le fichier avec l'adresse "
            "de dépôt délivrée pour cette tâche.",
        )
        for code, keys in sorted(evidence.items())
        if any(not key.startswith(prefix) for key in keys)
    ]
