"""Subsets of Noto Sans CJK SC embedded in PDFs as real, extractable text.

Used by the sample contract (:mod:`qianshu.signing.samples`) and by filled-in data fields
(:mod:`qianshu.signing.filltext`). A subset keeps only the glyphs of the characters asked for and
is embedded as a CID-keyed CFF font (``/CIDFontType0`` + ``/FontFile3 /CIDFontType0C``) under a
``/Type0`` font with the ``/Identity-H`` encoding: a string operand is the sequence of the glyphs'
CIDs, two bytes each. CID-keyed subsetting (HarfBuzz's hb-subset) keeps the CIDs of the full font
in the subset's charset, so a character's CID and advance width are the same in every subset.
The ``/ToUnicode`` map lets text extraction (``pdftotext``, copy and paste, search) give back the
characters; ``/W`` gives every advance width that is not the default 1000 units (Latin letters
and digits, punctuation).

Deterministic: the same characters give the same font bytes and the same subset tag.
"""

from __future__ import annotations

import functools
import hashlib
import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pikepdf

from qianshu.signing import fonts
from qianshu.signing.errors import ConfigurationError

CJK_FONT_PATH = Path(fonts.SANS_REGULAR)
#: Units per em of Noto Sans CJK: advance widths are in thousandths of the font size.
UNITS_PER_EM = 1000


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


@functools.lru_cache(maxsize=4)
def _find_sc_face(path: Path) -> int:
    from fontTools.ttLib import TTFont

    for index in range(16):
        face = TTFont(str(path), fontNumber=index, lazy=True)
        name = str(face["name"].getDebugName(4) or "")
        face.close()
        if "CJK SC" in name and "Mono" not in name:
            return index
    raise ConfigurationError(f"no Noto Sans CJK SC face found in {path}")


# The face preprocessed for subsetting, while a :func:`subsetting_many` block runs.
_preprocessed: ContextVar[tuple[Path, Any] | None] = ContextVar("qianshu_cjk_face", default=None)


@contextmanager
def subsetting_many(path: Path = CJK_FONT_PATH) -> Iterator[None]:
    """Make :func:`subset_cjk_font` fast inside the block, for work that subsets many times
    (批量发起: every row's data fields). HarfBuzz's preprocessing of the face (hb-subset's
    accelerator, made once here: about 0.5 s of CPU and 90 MB held until the block ends) takes
    a subset from about 3 ms to 0.1 ms; the subsets are byte for byte the same."""
    try:
        import uharfbuzz as hb

        face = hb.subset_preprocess(_hb_face(path))
    except Exception as exc:  # HarfBuzz and fontTools raise many types: a configuration matter
        raise ConfigurationError(f"cannot load the CJK font {path}: {exc}") from exc
    token = _preprocessed.set((path, face))
    try:
        yield
    finally:
        _preprocessed.reset(token)


def _subset_face(path: Path) -> Any:
    held = _preprocessed.get()
    return held[1] if held is not None and held[0] == path else _hb_face(path)


@functools.lru_cache(maxsize=8)
def subset_cjk_font(chars: str, path: Path = CJK_FONT_PATH) -> CjkFont:
    """The subset of the SC face in ``path`` with the glyphs of ``chars`` (and .notdef).

    Characters the face lacks are silently left out (they are missing from :attr:`CjkFont.cids`):
    callers that must not lose text check them first (:func:`advance_widths`). Raises
    :class:`ConfigurationError` when the font cannot be loaded or the subset does not keep the
    CIDs of the full font.
    """
    # HarfBuzz's hb-subset (uharfbuzz) takes a few milliseconds where fontTools' subsetter
    # took 65 ms or more (it parses the whole CFF table of the collection every time). Like
    # fontTools, it renumbers the glyphs but keeps the font CID-keyed: its charset maps each
    # new glyph index back to the glyph's CID in the full font, and a PDF's CIDFontType0
    # selects glyphs by CID through that charset. The charset is read back and checked.
    try:
        import uharfbuzz as hb

        names = _glyph_names(path)
        glyph_ids = _glyph_ids(path)
        wanted = sorted({glyph_ids[names[ch]] for ch in chars if ch in names})
        face = _subset_face(path)
        plan = hb.SubsetInput()
        for gid in wanted:
            plan.glyph_set.add(gid)
        plan.flags = (
            hb.SubsetFlags.DESUBROUTINIZE
            | hb.SubsetFlags.NOTDEF_OUTLINE
            | hb.SubsetFlags.NO_LAYOUT_CLOSURE  # no GSUB alternates: only these glyphs
        )
        dropped = plan.sets(hb.SubsetInputSets.DROP_TABLE_TAG)
        for tag in face.table_tags:
            if tag != "CFF ":  # only the CFF table is embedded
                dropped.add(int.from_bytes(tag.encode("latin-1"), "big"))
        subset = hb.subset(face, plan)
        if subset is None:
            raise ConfigurationError(f"hb-subset failed on the CJK font {path}")
        cff = bytes(subset.reference_table("CFF ").data)
        kept = _charset_cids(cff)
    except ConfigurationError:
        raise
    except Exception as exc:  # fontTools and HarfBuzz raise many types: a configuration matter
        raise ConfigurationError(f"cannot load the CJK font {path}: {exc}") from exc
    cids = {ch: _cid(names[ch]) for ch in chars if ch in names}
    if not set(cids.values()) <= kept or 0 not in kept:
        raise ConfigurationError("the CJK font subset does not keep the CIDs of the full font")
    metrics = _glyph_metrics(path)
    widths = {cid: metrics[_glyph_name(cid)][0] for cid in kept}
    tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(chars.encode()).digest()[:6])
    return CjkFont(cff=cff, base_font=f"{tag}+NotoSansCJKsc-Regular", cids=cids, widths=widths)


def _charset_cids(cff: bytes) -> set[int]:
    """The CIDs a CID-keyed CFF font program holds (its charset: glyph index to CID)."""
    from fontTools.cffLib import CFFFontSet

    fonts = CFFFontSet()
    fonts.decompile(io.BytesIO(cff), None)
    top = fonts.topDictIndex[0]
    if not hasattr(top, "ROS"):
        raise ConfigurationError("the CJK font subset is not CID-keyed")
    return {_cid(name) for name in top.charset}


@functools.lru_cache(maxsize=2)
def _hb_face(path: Path) -> Any:
    """The SC face for hb-subset (the file is mapped, not read; shared by every subsetting)."""
    import uharfbuzz as hb

    return hb.Face(hb.Blob.from_file_path(str(path)), _find_sc_face(path))


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


@functools.lru_cache(maxsize=2)
def _glyph_ids(path: Path) -> Mapping[str, int]:
    """Every glyph name of the SC face with its glyph index (what hb-subset is given)."""
    from fontTools.ttLib import TTFont

    face = TTFont(str(path), fontNumber=_find_sc_face(path), lazy=True)
    ids = {name: gid for gid, name in enumerate(face.getGlyphOrder())}
    face.close()
    return ids


def _cid(glyph_name: str) -> int:
    return 0 if glyph_name == ".notdef" else int(glyph_name.removeprefix("cid"))


def _glyph_name(cid: int) -> str:
    return ".notdef" if cid == 0 else f"cid{cid:05d}"


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
