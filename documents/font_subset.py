"""Lean font subsets: what a PDF viewer needs to draw the glyphs, without hinting or the long licence text.

reportlab embeds each TrueType subset with the source font's `name` table (DejaVu's is 15.6 KB: its licence,
on three platforms), its hinting programs (`fpgm`, `prep`, `cvt `) and each glyph's instructions. Hinting
only steers rasterisation at small pixel sizes on screen, which viewers do themselves; the licence stays
referred to by its URL (name id 14) beside the copyright notice (id 0). Without them an invoice's fonts shrink
from about 36 KB to a few KB each, which is most of the PDF (100,000 of them per cycle, archived for 10 years).
"""

from __future__ import annotations

import itertools
from struct import pack, unpack_from

from reportlab.pdfbase.ttfonts import TTFontMaker

# name ids kept: copyright, family, subfamily, unique id, full name, version, PostScript name, licence URL
KEPT_NAME_IDS = frozenset({0, 1, 2, 3, 4, 5, 6, 14})
HINTING_TABLES = frozenset({"fpgm", "prep", "cvt "})
WINDOWS_UNICODE_BMP = (3, 1)

_MORE_COMPONENTS, _WE_HAVE_INSTRUCTIONS = 1 << 5, 1 << 8
_ARG_WORDS, _SCALE, _XY_SCALE, _TWO_BY_TWO = 1 << 0, 1 << 3, 1 << 6, 1 << 7


def lean_subset(font: bytes) -> bytes:
    """The same font without hinting and with a short `name` table (a TrueType file made by reportlab)."""
    tables = _tables(font)
    loca_long = unpack_from(">h", tables["head"], 50)[0] == 1
    glyf, loca = _strip_instructions(tables["glyf"], _offsets(tables["loca"], loca_long))
    out = TTFontMaker()
    for tag, data in tables.items():
        if tag in HINTING_TABLES:
            continue
        if tag == "name":
            data = _short_name(data)
        elif tag == "glyf":
            data = glyf
        elif tag == "loca":
            data = pack(f">{len(loca)}L", *loca) if loca_long else pack(f">{len(loca)}H", *(o >> 1 for o in loca))
        out.add(tag, data)
    return bytes(out.makeStream())


def _tables(font: bytes) -> dict[str, bytes]:
    count = unpack_from(">H", font, 4)[0]
    tables = {}
    for i in range(count):
        tag, _, offset, length = unpack_from(">4sLLL", font, 12 + 16 * i)
        tables[tag.decode("latin-1")] = font[offset : offset + length]
    return tables


def _offsets(loca: bytes, long: bool) -> list[int]:
    if long:
        return list(unpack_from(f">{len(loca) // 4}L", loca))
    return [o * 2 for o in unpack_from(f">{len(loca) // 2}H", loca)]


def _strip_instructions(glyf: bytes, offsets: list[int]) -> tuple[bytes, list[int]]:
    """Each glyph without its instructions, every glyph 4-byte aligned (so both loca formats can address it)."""
    glyphs = []
    new_offsets = [0]
    for start, end in itertools.pairwise(offsets):
        glyph = _glyph_without_instructions(glyf[start:end]) if end > start else b""
        glyph += b"\0" * (-len(glyph) % 4)
        glyphs.append(glyph)
        new_offsets.append(new_offsets[-1] + len(glyph))
    return b"".join(glyphs), new_offsets


def _glyph_without_instructions(glyph: bytes) -> bytes:
    contours = unpack_from(">h", glyph, 0)[0]
    if contours >= 0:  # simple glyph: header, end points, instruction length, instructions, outline
        at = 10 + 2 * contours
        length = unpack_from(">H", glyph, at)[0]
        return glyph[:at] + b"\0\0" + glyph[at + 2 + length :]
    at, flags = 10, _MORE_COMPONENTS  # composite glyph: components, then instructions if a flag says so
    head = bytearray(glyph)
    while flags & _MORE_COMPONENTS:
        flags = unpack_from(">H", glyph, at)[0]
        head[at : at + 2] = pack(">H", flags & ~_WE_HAVE_INSTRUCTIONS)
        at += 4 + (4 if flags & _ARG_WORDS else 2)
        at += 2 if flags & _SCALE else 4 if flags & _XY_SCALE else 8 if flags & _TWO_BY_TWO else 0
    return bytes(head[:at])


def _short_name(name: bytes) -> bytes:
    """The `name` table with the kept ids, Windows Unicode records only (what PDF viewers read)."""
    _, count, storage = unpack_from(">HHH", name, 0)
    records = []
    for i in range(count):
        platform, encoding, language, name_id, length, offset = unpack_from(">6H", name, 6 + 12 * i)
        if (platform, encoding) == WINDOWS_UNICODE_BMP and name_id in KEPT_NAME_IDS:
            records.append((platform, encoding, language, name_id, name[storage + offset : storage + offset + length]))
    header = pack(">HHH", 0, len(records), 6 + 12 * len(records))
    directory, strings = b"", b""
    for platform, encoding, language, name_id, text in records:
        directory += pack(">6H", platform, encoding, language, name_id, len(text), len(strings))
        strings += text
    return header + directory + strings
