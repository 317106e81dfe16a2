"""The one font family every PDF of the project uses: DejaVu Sans, embedded as subsets.

reportlab's standard Helvetica is not embedded: each viewer substitutes its own font with other metrics, so
in Chromium's viewer labels ran into values. A TrueType font registered with reportlab is embedded as a
subset of the glyphs used (with their widths), so the document renders the same everywhere; DejaVu Sans
has "€" and every French accent. The files come from the Debian package fonts-dejavu-core, which
``make install`` and ``make test`` install (scripts/ensure-system-packages.sh).

Registration is per process (reportlab keeps a process-wide font registry): every rendering entry point
calls :func:`pdf_fonts`, so the spawned rendering pool's processes register on their first document.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from documents.font_subset import lean_subset

__all__ = ["BOLD", "FONT_DIR", "REGULAR", "FontMissingError", "PdfFonts", "font_files", "pdf_fonts"]

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
REGULAR, BOLD = "DejaVuSans", "DejaVuSans-Bold"
_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}


class FontMissingError(RuntimeError):
    """A font file the PDFs embed is not installed."""


@dataclass(frozen=True, slots=True)
class PdfFonts:
    """Names of the registered fonts, to pass to reportlab (canvas, paragraph styles, charts)."""

    regular: str = REGULAR
    bold: str = BOLD


_lock = threading.Lock()
_registered: PdfFonts | None = None


def font_files(font_dir: Path = FONT_DIR) -> dict[str, Path]:
    """The TTF file of each font name; FontMissingError (saying what to install) when one is missing."""
    files = {name: font_dir / file for name, file in _FILES.items()}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise FontMissingError(
            f"font file(s) not found: {', '.join(missing)}. The PDFs embed DejaVu Sans: install the Debian "
            "package fonts-dejavu-core (`make install`, or apt-get install -y fonts-dejavu-core)."
        )
    return files


class _SubsetMaker:
    """reportlab's `makeSubset` of one registered face, one call at a time, through `lean_subset`.

    The face is shared by every thread of the process (the worker's activity threads, the API's), and
    `makeSubset` reads the font file through the face's own cursor (`seek`, then `read_*`): two documents saved
    at once moved each other's cursor, which raised IndexError or, silently, embedded a font file other than
    the one the same document gets when rendered alone (tests/unit/test_pdf_threads.py). Every subset also
    goes through lean_subset (documents/font_subset.py).
    """

    def __init__(self, make: Callable[[list[int]], bytes]) -> None:
        self._make = make
        self._lock = threading.Lock()

    def __call__(self, subset: list[int]) -> bytes:
        with self._lock:
            font = self._make(subset)
        return lean_subset(font)


def pdf_fonts() -> PdfFonts:
    """Register DejaVu Sans (regular, bold) with reportlab once per process; fail clearly if a file is missing."""
    global _registered
    if _registered is not None:
        return _registered
    with _lock:
        if _registered is None:
            for name, path in font_files().items():
                font = TTFont(name, str(path))
                font.face.makeSubset = _SubsetMaker(font.face.makeSubset)
                pdfmetrics.registerFont(font)
            # <b> in platypus paragraphs maps to the bold face; there is no italic, so those map to upright.
            pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)
            _registered = PdfFonts()
    return _registered
