"""Subsets of Noto Sans CJK SC embedded in PDFs as real, extractable text.

Used by the sample contract (:mod:`qianshu.signing.samples`) and by filled-in data fields
(:mod:`qianshu.signing.filltext`). A subset keeps only the glyphs of the characters asked for and
is embedded as a CID-keyed CFF font (``/CIDFontType0`` + ``/FontFile3 /CIDFontType0C``) under a
``/Type0`` font with the ``/Identity-H`` encoding: a string operand is the sequence of the glyphs'
CIDs, two bytes each. CID-keyed subsetting keeps the CIDs of the full font, so a character's CID
and advance width are the same in every subset. The ``/ToUnicode`` map lets text extraction
(``pdftotext``, copy and paste, search) give back the characters; ``/W`` gives every advance
width that is not the default 1000 units (Latin letters and digits, punctuation).

Deterministic: the same characters give the same font bytes and the same subset tag.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pikepdf

from qianshu.signing import fonts
from qianshu.signing.errors import ConfigurationError

CJK_FONT_PATH = Path(fonts.SANS_REGULAR)
#: Units per em of Noto Sans CJK: advance widths are in thousandths of the font size.
UNITS_PER_EM = 1000
_UNUSED_TABLES = ("GSUB", "GPOS", "GDEF", "BASE", "JSTF", "VORG", "vhea", "vmtx")


@dataclass(frozen=True)
class CjkFont:
    """A subset of the Noto Sans CJK SC face, ready to embed."""

    cff: bytes
    base_font: str
    cids: dict[str, int]
    widths: dict[int, int]

    def encode(self, text: str) -> bytes:
        """The text as a hex string operand of glyph ids (CIDs) for an Identity-H font."""
        return b"<" + "".join(f"{self.cids.get(ch, 0):04X}" for ch in text).encode() + b">"

    def width(self, text: str, size: float) -> float:
        return sum(self.widths.get(self.cids.get(ch, 0), 1000) for ch in text) * size / 1000


def _find_sc_face(path: Path) -> int:
    from fontTools.ttLib import TTFont

    for index in range(16):
        face = TTFont(str(path), fontNumber=index, lazy=True)
        name = str(face["name"].getDebugName(4) or "")
        face.close()
        if "CJK SC" in name and "Mono" not in name:
            return index
    raise ConfigurationError(f"no Noto Sans CJK SC face found in {path}")


@functools.lru_cache(maxsize=8)
def subset_cjk_font(chars: str, path: Path = CJK_FONT_PATH) -> CjkFont:
    """The subset of the SC face in ``path`` with the glyphs of ``chars`` (and .notdef).

    Characters the face lacks are silently left out (they are missing from :attr:`CjkFont.cids`):
    callers that must not lose text check them first (:func:`advance_widths`). Raises
    :class:`ConfigurationError` when the font cannot be loaded.
    """
    # Memoised: subsetting still takes 0.1 to 0.2 s (parsing the CFF table of the collection).
    try:
        from fontTools import subset
        from fontTools.ttLib import TTFont

        face = TTFont(str(path), fontNumber=_find_sc_face(path))
        # Only the CFF table, the cmap and the advance widths are used: removing the layout
        # tables before subsetting (no features are kept anyway) and reusing the parsed
        # advance widths save most of the time.
        for tag in _UNUSED_TABLES:
            if tag in face:
                del face[tag]
        face["hmtx"] = _metrics_table(path)
        # The glyphs of ``chars`` from the cmap parsed once per process (decompiling the
        # collection's cmap again took about 0.1 s of every subsetting); the subset's own cmap
        # is not embedded (the PDF maps CIDs with Identity-H and its own /ToUnicode).
        names = _glyph_names(path)
        wanted = sorted({names[ch] for ch in chars if ch in names})
        del face["cmap"]
        options = subset.Options()
        options.desubroutinize = True
        options.layout_features = []
        options.notdef_outline = True
        options.prune_unicode_ranges = False  # OS/2 is not embedded and would need the cmap
        options.prune_codepage_ranges = False
        subsetter = subset.Subsetter(options)
        subsetter.populate(glyphs=wanted)
        subsetter.subset(face)
        cff = face["CFF "].compile(face)
        cids = {ch: _cid(names[ch]) for ch in chars if ch in names}
        widths = {_cid(glyph): face["hmtx"][glyph][0] for glyph in face.getGlyphOrder()}
    except ConfigurationError:
        raise
    except Exception as exc:  # fontTools raises many types; the font is a configuration matter
        raise ConfigurationError(f"cannot load the CJK font {path}: {exc}") from exc
    tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(chars.encode()).digest()[:6])
    return CjkFont(
        cff=bytes(cff), base_font=f"{tag}+NotoSansCJKsc-Regular", cids=cids, widths=widths
    )


@functools.lru_cache(maxsize=2)
def advance_widths(path: Path = CJK_FONT_PATH) -> Mapping[str, int]:
    """Every character of the full SC face with its advance width in font units.

    Cheap to query once loaded (~0.2 s, once per process): text layout measures with it without
    subsetting, and a character missing here has no glyph. The widths are those a subset embeds.
    """
    try:
        from fontTools.ttLib import TTFont

        face = TTFont(str(path), fontNumber=_find_sc_face(path), lazy=True)
        metrics = face["hmtx"]
        widths = {chr(code): metrics[glyph][0] for code, glyph in face.getBestCmap().items()}
        face.close()
    except ConfigurationError:
        raise
    except Exception as exc:  # fontTools raises many types; the font is a configuration matter
        raise ConfigurationError(f"cannot load the CJK font {path}: {exc}") from exc
    return widths


@functools.lru_cache(maxsize=2)
def _glyph_metrics(path: Path) -> Mapping[str, tuple[int, int]]:
    from fontTools.ttLib import TTFont

    face = TTFont(str(path), fontNumber=_find_sc_face(path), lazy=True)
    metrics = dict(face["hmtx"].metrics)
    face.close()
    return metrics


@functools.lru_cache(maxsize=2)
def _glyph_names(path: Path) -> Mapping[str, str]:
    """Every character of the SC face with its glyph name (``cidNNNNN``), once per process."""
    from fontTools.ttLib import TTFont

    face = TTFont(str(path), fontNumber=_find_sc_face(path), lazy=True)
    names = {chr(code): glyph for code, glyph in face.getBestCmap().items()}
    face.close()
    return names


def _metrics_table(path: Path) -> object:
    """A fresh ``hmtx`` table for one subsetting (the subsetter prunes it in place)."""
    from fontTools.ttLib import newTable

    table = newTable("hmtx")
    table.metrics = dict(_glyph_metrics(path))
    return table


def _cid(glyph_name: str) -> int:
    return 0 if glyph_name == ".notdef" else int(glyph_name.removeprefix("cid"))


def to_unicode_cmap(font: CjkFont) -> bytes:
    """The ``/ToUnicode`` CMap of ``font``: each CID back to its character."""
    pairs = sorted((cid, ch) for ch, cid in font.cids.items() if cid)
    lines = [
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
        "1 begincodespacerange <0000> <FFFF> endcodespacerange",
    ]
    for start in range(0, len(pairs), 100):
        chunk = pairs[start : start + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines += [f"<{cid:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for cid, ch in chunk]
        lines.append("endbfchar")
    lines += ["endcmap CMapName currentdict /CMap defineresource pop end end"]
    return "\n".join(lines).encode("ascii")


@dataclass(frozen=True)
class FontDictionaries:
    """The dictionaries of an embedded subset, as plain values (names are ``"/Name"``
    strings), without the references between them and to the streams: the same objects for
    every PDF library that writes them (:func:`embed_cjk_font` with pikepdf,
    :mod:`qianshu.signing.textstamps` with pyHanko). Each embedder adds ``/FontFile3`` (the
    CFF data, ``/Subtype /CIDFontType0C``) to the descriptor, ``/FontDescriptor`` to the CID
    font, and ``/DescendantFonts`` and ``/ToUnicode`` (:func:`to_unicode_cmap`) to the Type0
    font."""

    descriptor: dict[str, object]
    cid_font: dict[str, object]
    type0: dict[str, object]


def font_dictionaries(font: CjkFont) -> FontDictionaries:
    widths: list[object] = []
    for cid in sorted(font.widths):
        if font.widths[cid] != 1000:
            widths += [cid, [font.widths[cid]]]
    name = f"/{font.base_font}"
    return FontDictionaries(
        descriptor={
            "/Type": "/FontDescriptor",
            "/FontName": name,
            "/Flags": 4,
            "/FontBBox": [-1002, -1048, 2928, 1808],
            "/ItalicAngle": 0,
            "/Ascent": 1160,
            "/Descent": -288,
            "/CapHeight": 733,
            "/StemV": 80,
        },
        cid_font={
            "/Type": "/Font",
            "/Subtype": "/CIDFontType0",
            "/BaseFont": name,
            "/DW": 1000,
            "/CIDSystemInfo": {"/Registry": "Adobe", "/Ordering": "Identity", "/Supplement": 0},
            "/W": widths,
        },
        type0={
            "/Type": "/Font",
            "/Subtype": "/Type0",
            "/BaseFont": name,
            "/Encoding": "/Identity-H",
        },
    )


def make_indirect(pdf: pikepdf.Pdf, syntax: str, **refs: object) -> pikepdf.Object:
    """An indirect object from PDF syntax, plus entries that refer to other objects."""
    obj = pikepdf.Object.parse(syntax.encode())
    for key, value in refs.items():
        obj[f"/{key}"] = value
    return pdf.make_indirect(obj)


def _pikepdf_dictionary(entries: dict[str, object]) -> pikepdf.Dictionary:
    return pikepdf.Dictionary({k: _pikepdf_value(v) for k, v in entries.items()})


def _pikepdf_value(value: object) -> object:
    if isinstance(value, dict):
        return _pikepdf_dictionary(value)
    if isinstance(value, list):
        return pikepdf.Array([_pikepdf_value(v) for v in value])
    if isinstance(value, str):
        return pikepdf.Name(value) if value.startswith("/") else pikepdf.String(value)
    return value


def embed_cjk_font(pdf: pikepdf.Pdf, font: CjkFont) -> pikepdf.Object:
    """Add ``font`` to ``pdf``; returns the ``/Type0`` font dictionary (indirect) to put in the
    ``/Font`` resources of the pages that use it."""
    parts = font_dictionaries(font)
    descriptor = _pikepdf_dictionary(parts.descriptor)
    descriptor["/FontFile3"] = pdf.make_stream(font.cff, Subtype=pikepdf.Name.CIDFontType0C)
    cid_font = _pikepdf_dictionary(parts.cid_font)
    cid_font["/FontDescriptor"] = pdf.make_indirect(descriptor)
    type0 = _pikepdf_dictionary(parts.type0)
    type0["/DescendantFonts"] = pikepdf.Array([pdf.make_indirect(cid_font)])
    type0["/ToUnicode"] = pdf.make_stream(to_unicode_cmap(font))
    return pdf.make_indirect(type0)
