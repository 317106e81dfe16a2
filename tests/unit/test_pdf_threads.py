"""PDFs rendered by several threads at once (the worker's activity threads, the API's) are the ones rendered alone.

The fonts are registered once per process and shared by every thread; a subset embedded from a face another
thread was reading came out wrong, or raised (documents/pdf_fonts.py).
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from bench.pdf_render import make_invoices
from documents.invoice import render_invoice


def test_invoices_rendered_in_threads_are_byte_identical_to_those_rendered_alone() -> None:
    docs = make_invoices(300)
    alone = [render_invoice(doc) for doc in docs]  # deterministic: the canvas is `invariant`
    # threads hand over the GIL every 10 µs instead of 5 ms: they interleave inside each other's font reads
    # on every run, as they do now and then in a busy worker
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        with ThreadPoolExecutor(8) as pool:
            together = list(pool.map(render_invoice, docs))  # an exception here fails the test too
    finally:
        sys.setswitchinterval(interval)
    differing = [doc.number for doc, a, b in zip(docs, alone, together, strict=True) if a != b]
    assert not differing, differing
