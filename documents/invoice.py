"""Family invoices as PDF: one invoice, a batch (in worker processes) or a print run in one file.

The document is `documents.invoice_document`, its pages `documents.invoice_pages`.
"""

from __future__ import annotations

import io
import multiprocessing
import threading
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor

from reportlab.lib.pagesizes import A4

from documents.invoice_document import DocLine, InvoiceDocument
from documents.invoice_pages import draw_invoice
from documents.layout import Pen, new_canvas

__all__ = ["DocLine", "InvoiceDocument", "render_invoice", "render_invoices", "render_many", "render_pool"]


def render_invoice(doc: InvoiceDocument) -> bytes:
    """Render one invoice as PDF bytes (A4, French; extra pages repeat the table header)."""
    buf = io.BytesIO()
    canvas = new_canvas(buf, f"Facture {doc.number}", doc.issue_date)
    draw_invoice(Pen(canvas, A4[1]), doc)
    canvas.save()
    return buf.getvalue()


def render_invoices(docs: Sequence[InvoiceDocument], pool: Executor | None = None, chunk: int = 50) -> list[bytes]:
    """One PDF per invoice, in order; rendered by chunks in `pool` (worker processes) when one is given."""
    if pool is None or len(docs) <= chunk:
        return [render_invoice(doc) for doc in docs]
    chunks = [docs[i : i + chunk] for i in range(0, len(docs), chunk)]
    return [pdf for rendered in pool.map(_render_chunk, chunks) for pdf in rendered]


def _render_chunk(docs: Sequence[InvoiceDocument]) -> list[bytes]:
    return [render_invoice(doc) for doc in docs]


_pool_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def render_pool(processes: int) -> Executor | None:
    """This process's rendering pool, started on first use; None when `processes` < 1 (render in the caller).

    Rendering is CPU-bound Python (reportlab): in worker processes it leaves the activity threads' GIL.
    Spawned, not forked, because the worker process runs threads (forking them is unsafe).
    """
    global _pool
    if processes < 1:
        return None
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
        return _pool


def render_many(docs: Sequence[InvoiceDocument], *, duplex: bool = False) -> bytes:
    """Render a print batch: every invoice in order in one PDF; ``duplex`` pads each to an even page count."""
    if not docs:
        raise ValueError("nothing to render")
    buf = io.BytesIO()
    title = f"Factures Facil'familles {docs[0].number} à {docs[-1].number} ({len(docs)})"
    canvas = new_canvas(buf, title, max(d.issue_date for d in docs))
    pen = Pen(canvas, A4[1])
    for doc in docs:
        if draw_invoice(pen, doc) % 2 and duplex:
            pen.end_page()  # blank back so the next invoice starts on a fresh sheet
    canvas.save()
    return buf.getvalue()
