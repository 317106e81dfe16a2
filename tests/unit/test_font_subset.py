"""Lean font subsets: no hinting, a short name table, the same outlines and metrics as reportlab's subset."""

from __future__ import annotations

import itertools
import re
import zlib
from struct import unpack_from

from reportlab.pdfbase.ttfonts import TTFontFile

from documents.font_subset import HINTING_TABLES, KEPT_NAME_IDS, _offsets, _tables, lean_subset
from documents.invoice import render_invoice
from documents.pdf_fonts import BOLD, REGULAR, font_files
from tests.unit.test_pdf import make_invoice

TEXT = [ord(c) for c in "Facture n° FF-2026 : 83,51 € — Léa, Noé, Chloé, goûter, études, crèche (Œ)"]


def subset(name: str) -> bytes:
    return bytes(TTFontFile(str(font_files()[name])).makeSubset(sorted(set(TEXT))))


def glyphs(font: bytes) -> list[bytes]:
    tables = _tables(font)
    long = unpack_from(">h", tables["head"], 50)[0] == 1
    offsets = _offsets(tables["loca"], long)
    return [tables["glyf"][a:b] for a, b in itertools.pairwise(offsets)]


def outline(glyph: bytes) -> tuple[bytes, bytes]:
    """A simple glyph's header and contours, and its points (flags and coordinates), without instructions."""
    contours = unpack_from(">h", glyph, 0)[0]
    at = 10 + 2 * contours
    length = unpack_from(">H", glyph, at)[0]
    return glyph[:at], glyph[at + 2 + length :].rstrip(b"\0")


def test_the_lean_subset_has_no_hinting_and_only_the_kept_names() -> None:
    for name in (REGULAR, BOLD):
        before, after = _tables(subset(name)), _tables(lean_subset(subset(name)))
        assert before.keys() >= HINTING_TABLES, "DejaVu is hinted: the test would prove nothing"
        assert not HINTING_TABLES & after.keys()
        count = unpack_from(">H", after["name"], 2)[0]
        ids = {unpack_from(">6H", after["name"], 6 + 12 * i)[3] for i in range(count)}
        assert ids == KEPT_NAME_IDS & ids and {0, 1, 4, 6} <= ids
        for tag in ("cmap", "hmtx", "hhea", "maxp", "OS/2", "post"):
            assert after[tag] == before[tag], tag


def test_every_glyph_keeps_its_outline_and_loses_its_instructions() -> None:
    font = subset(REGULAR)
    old, new = glyphs(font), glyphs(lean_subset(font))
    assert len(old) == len(new) > len(set(TEXT)) // 2
    simple = 0
    for before, after in zip(old, new, strict=True):
        if not before:
            assert not after.strip(b"\0")
            continue
        if unpack_from(">h", before, 0)[0] >= 0:
            simple += 1
            assert outline(after) == outline(before)
            assert unpack_from(">H", after, 10 + 2 * unpack_from(">h", after, 0)[0])[0] == 0
        else:  # composite: same components, the instruction flag cleared
            assert len(after.rstrip(b"\0")) <= len(before)
            assert not unpack_from(">H", after, 10)[0] & (1 << 8)
    assert simple > 10


def test_an_invoice_embeds_lean_fonts() -> None:
    pdf = render_invoice(make_invoice())
    fonts = [
        zlib.decompress(pdf[m.end() : m.end() + int(m.group(1))])
        for m in re.finditer(rb"/Length (\d+) /Length1 \d+\s*>>\s*stream\r?\n", pdf)
    ]
    assert len(fonts) == 2
    for font in fonts:
        assert not HINTING_TABLES & _tables(font).keys()
