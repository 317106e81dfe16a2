"""Micro-benchmark: invoice PDF pages per second, one process vs a process pool.

Run: ``.venv/bin/python -m bench.pdf_render [--count 1000] [--workers 2] [--chunk 50]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import date

from documents.invoice import DocLine, InvoiceDocument, render_invoice, render_many

_ACTIVITIES = (
    ("Restauration scolaire (repas)", 228),
    ("Études surveillées", 340),
    ("Centre de loisirs — mercredi après-midi", 1150),
    ("Goûter récréatif", 85),
    ("Atelier bleu : éveil musical et théâtre d'improvisation pour les enfants de l'école élémentaire", 1620),
)
_CHILDREN = ("Léa", "Noé", "Chloé", "Inès", "Adam")


def make_invoices(count: int) -> list[InvoiceDocument]:
    """Deterministic one-page invoices: 1 to 3 children, 2 to 7 lines."""
    docs = []
    for n in range(1, count + 1):
        lines = []
        for i in range(2 + n % 6):
            label, price = _ACTIVITIES[(n + i) % len(_ACTIVITIES)]
            qty = 1 + (n * 7 + i) % 16
            lines.append(DocLine(_CHILDREN[(n + i // 3) % 3], label, qty, price, qty * price))
        lines.sort(key=lambda line: line.child_first_name)
        total = sum(line.amount_cents for line in lines)
        unpaid = 2350 if n % 5 == 0 else 0
        docs.append(
            InvoiceDocument(
                number=f"FF-2026-{n:06d}",
                account_ref=f"FAM-{n:07d}",
                period_label="septembre–octobre 2026",
                issue_date=date(2026, 11, 5),
                due_date=date(2026, 12, 25),
                payer_name=f"Famille n° {n}",
                payer_address=f"{n % 200 + 1} rue de la Présentation\n750{n % 20 + 1:02d} Paris",
                tranche=1 + n % 10,
                lines=tuple(lines),
                lines_total_cents=total,
                previous_unpaid_cents=unpaid,
                credit_applied_cents=0,
                amount_due_cents=total + unpaid,
                payment_url="https://facilfamilles.paris.fr/payer",
            )
        )
    return docs


def _render_chunk(docs: Sequence[InvoiceDocument]) -> list[bytes]:
    return [render_invoice(doc) for doc in docs]


def _pages(pdf: bytes) -> int:
    return pdf.count(b"/Type /Page\n")


def _timed(label: str, run: Callable[[], list[bytes]]) -> None:
    start = time.perf_counter()
    pdfs = run()
    elapsed = time.perf_counter() - start
    pages = sum(_pages(pdf) for pdf in pdfs)
    size = sum(len(pdf) for pdf in pdfs)
    print(f"{label:<42} {pages:>6} pages  {elapsed:6.2f} s  {pages / elapsed:7.0f} pages/s  {size / 1e6:6.1f} MB")


def main() -> None:
    """Print pages/s for single-process rendering, one print batch, and a process pool."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=50, help="invoices per pool task")
    args = parser.parse_args()
    docs = make_invoices(args.count)
    render_invoice(docs[0])  # warm imports and caches, as a long-lived worker would be

    _timed("one process, one PDF per invoice", lambda: _render_chunk(docs))
    _timed("one process, render_many (print batch)", lambda: [render_many(docs)])
    chunks = [docs[i : i + args.chunk] for i in range(0, len(docs), args.chunk)]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        list(pool.map(_render_chunk, [docs[:1]] * args.workers))  # start and warm the workers

        def pooled() -> list[bytes]:
            return [pdf for chunk in pool.map(_render_chunk, chunks) for pdf in chunk]

        _timed(f"pool of {args.workers}, one PDF per invoice", pooled)


if __name__ == "__main__":
    main()
