"""Drawing helpers every PDF of the project shares: WinAnsi-safe text, French dates, colours, deterministic bytes.

Pure (data in, bytes out): used by the letters (`documents.layout`), the tabular reports (`documents.report`) and
the simulation chart (`documents.simulation_report`), all with the fonts of `documents.pdf_fonts`.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from hashlib import md5

from reportlab.lib.colors import Color
from reportlab.pdfbase.pdfdoc import PDFZCompress
from reportlab.pdfgen.canvas import Canvas

__all__ = ["BLUE", "GREY", "INK", "RULE", "TINT", "WHITE", "date_fr", "seal", "winansi"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[\u2000-\u200a\u202f\u205f\u3000]")
# Letters NFKD does not decompose into an ASCII base.
_FALLBACK = str.maketrans({"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i", "Ħ": "H", "ħ": "h", "ŋ": "n"})


def winansi(text: str) -> str:
    """Make ``text`` printable with the standard fonts: transliterate what WinAnsi lacks, drop controls."""
    text = _CONTROL.sub(" ", text)
    try:
        text.encode("cp1252")
        return text
    except UnicodeEncodeError:
        pass
    text = _SPACES.sub("\u00a0", text).translate(_FALLBACK)
    out: list[str] = []
    for ch in text:
        try:
            ch.encode("cp1252")
            out.append(ch)
            continue
        except UnicodeEncodeError:
            pass
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        try:
            base.encode("cp1252")
            out.append(base or "?")
        except UnicodeEncodeError:
            out.append("?")
    return "".join(out)


def date_fr(d: date) -> str:
    """`2026-06-30` -> `30/06/2026`."""
    return f"{d.day:02d}/{d.month:02d}/{d.year:04d}"


BLUE = Color(0.0, 0.2, 0.47)
INK = Color(0.1, 0.1, 0.12)
GREY = Color(0.4, 0.4, 0.44)
RULE = Color(0.75, 0.77, 0.8)
TINT = Color(0.91, 0.94, 0.98)
WHITE = Color(1, 1, 1)


def seal(canvas: Canvas, title: str, issued: date | None) -> None:
    """Make the bytes depend on the input only, and compress streams with Flate alone."""
    # Flate without reportlab's default ASCII85 layer: 15 % smaller and faster. Set per document
    # (pageCompression=0 defers to it) rather than through the process-wide rl_config.useA85.
    canvas._doc.defaultStreamFilters = [PDFZCompress]
    # The PDF /ID digest is seeded with a timestamp that SOURCE_DATE_EPOCH changes even in invariant
    # mode; seed it from the title instead.
    canvas._doc.signature = md5(f"facil-familles:{title}".encode(), usedforsecurity=False)
    day = issued or date(2000, 1, 1)  # reportlab's own invariant date when the document has none
    stamp = f"D:{day.year:04d}{day.month:02d}{day.day:02d}000000+00'00'"
    canvas.setDateFormatter(lambda *_: stamp)
