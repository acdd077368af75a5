"""Filled-in data fields written into a PDF as real text, before any signature.

The values of a template's data fields (text, multi-line text, number, date, single choice,
checkbox) become part of the page: :func:`fill_text` draws each value in its box as PDF text
with ONE embedded subset of Noto Sans CJK SC for the whole document (only the glyphs used;
CID-keyed, ``/Identity-H``, ``/ToUnicode``, ``/W``: see :mod:`qianshu.signing.cjkfont`), so the
text is searchable and ``pdftotext`` or copy and paste give back exactly the values. It runs at
preparation, before the platform's certification, so every later signature covers the values.
Writing is a full rewrite (pikepdf): a document that already carries a signature is refused,
because rewriting it would break that signature.

Coordinates
-----------
Like signature fields (:func:`qianshu.signing.documents.page_boxes`): ``page`` is zero-based and
``rect`` is in PDF points in the page's own, unrotated user space (origin bottom-left; on a page
with an offset MediaBox or CropBox the box uses the same offset numbers). The box must lie in the
page's visible area (CropBox clipped to MediaBox, 1 pt tolerance). On a page with ``/Rotate``
the text reads upright for the viewer: it is laid out in the box as displayed (on a 90° or 270°
page the displayed width of the box is its height in user space), then mapped into user space.

Layout rules (:func:`measure`; :func:`fill_text` uses exactly this layout)
--------------------------------------------------------------------------
* A padding of :data:`PADDING` points on every side of the box.
* Size: the field's ``size`` if given (within :data:`SIZE_RANGE`), else the largest of
  :data:`DEFAULT_SIZE`, DEFAULT_SIZE - 0.5, … down to :data:`MIN_SIZE` at which the value fits.
* Single-line: one line, vertically centred (the em box, 0.88 above and 0.12 below the baseline,
  is centred); it fits when its advance width is at most the inner width and the size at most
  the inner height. A line break in the value is refused.
* Multi-line: ``\\n`` (or ``\\r\\n``) starts a new paragraph; paragraphs are wrapped to the inner
  width; lines are :data:`LINE_HEIGHT` times the size apart, top-aligned; it fits when
  ``(lines - 1) * leading + size`` is at most the inner height and every line (even a single
  glyph) at most the inner width.
* Wrapping: a line may break at a space (the space is not drawn), and before or after a wide
  (CJK) character; a run of other characters (a Latin word, a number, a date) is kept whole
  unless it alone is wider than the line, then it is broken by character. No line starts with
  closing punctuation (，。、；：？！ …) and none ends with opening punctuation (（《“ …): the
  character before is carried to the next line with it (like :mod:`qianshu.signing.samples`,
  but without hanging punctuation: nothing is drawn outside the box). Only when a line has no
  allowed break at all (a box a few glyphs wide) is it broken where it is full.
* ``align``: each line left, centre or right of the inner width.
* Widths are the font's advance widths (no kerning), the ones embedded in ``/W``.

Refusals (:class:`FillError`, with the field name and a stable ``code``): the value does not fit
at the minimum (or given) size (``fill_too_long``); a character the font has no glyph for
(``fill_missing_glyph``, never silently drawn as .notdef; control and format characters such as
a tab or a zero-width space count as missing); a line break in a single-line field
(``fill_line_break``); a box outside its page or empty (``fill_outside_page``); a page that does
not exist (``fill_no_page``); a bad size, alignment or non-finite box (``fill_bad_spec``).

Drawing: the page's existing content is wrapped in ``q … Q`` (with extra ``Q`` for any ``q`` it
leaves unbalanced), so its graphics state cannot leak into the appended stream, which draws in
black with the fill font under a fresh resource name. A checkbox is drawn by passing its
character as the value: Noto Sans CJK SC has ✓ (:data:`CHECK_MARK`), not ☐/☑. When no value
has text to draw, the input comes back unchanged (boxes and pages are still checked).

Known limits: characters that share one glyph in the font (e.g. the Kangxi radical ⼀ and the
ideograph 一) are extracted as one of them; ``/UserUnit`` is not applied to the font size (the
box, like signature fields, is in user units); no kerning, justification or hyphenation.
"""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pikepdf

from qianshu.signing import cjkfont
from qianshu.signing.errors import BrokenPdfError, ConfigurationError, PdfError, SigningError
from qianshu.signing.ingest import is_signed
from qianshu.signing.pages import error_text, open_pikepdf
from qianshu.signing.stamps import Rect, pdf_number

__all__ = [
    "CHECK_MARK",
    "DEFAULT_SIZE",
    "LINE_HEIGHT",
    "MIN_SIZE",
    "PADDING",
    "SIZE_RANGE",
    "FillError",
    "Layout",
    "TextFill",
    "fill_text",
    "fits",
    "measure",
    "page_rotations",
]

Align = Literal["left", "center", "right"]

DEFAULT_SIZE = 10.5  # 五号, the usual size of Chinese forms
MIN_SIZE = 7.0
SIZE_STEP = 0.5
#: The range of an explicitly given font size.
SIZE_RANGE = (4.0, 72.0)
LINE_HEIGHT = 1.3
PADDING = 2.0
#: The check mark of a ticked checkbox (the font has no ☐ / ☑).
CHECK_MARK = "\u2713"
_ASCENT = 0.88  # the ideographic em box of Noto Sans CJK: 880 units up, 120 down
_DESCENT = 0.12
_TOLERANCE = 1.0
_NO_LINE_START = frozenset("，。、；：？！）》」』】〕〉”’…·—～,.;:?!)]}%")
_NO_LINE_END = frozenset("（《「『【〔〈“‘([{")
_FONT_RESOURCE = "/QSFill"


class FillError(SigningError):
    """A data field's value cannot be written into the PDF.

    ``field`` names the field, ``code`` says why (``fill_too_long``, ``fill_missing_glyph`` with
    the character in ``char``, ``fill_line_break``, ``fill_outside_page``, ``fill_no_page``,
    ``fill_bad_spec``); the message is English, for logs (the web layer translates the code).
    """

    code = "fill"

    def __init__(self, message: str, *, field: str, code: str, char: str = "") -> None:
        super().__init__(f"field {field!r}: {message}", code=code)
        self.field = field
        self.char = char


@dataclass(frozen=True)
class TextFill:
    """One data field's value to write: ``page`` zero-based, ``rect`` in PDF points in the
    page's unrotated user space; ``size`` None fits the size (see the module docstring)."""

    name: str
    page: int
    rect: Rect
    value: str
    multiline: bool = False
    size: float | None = None
    align: Align = "left"


@dataclass(frozen=True)
class Layout:
    """Where a value's lines go, in the box as displayed (origin its bottom-left corner)."""

    size: float
    lines: tuple[str, ...]
    #: (x, baseline) of each line, in points from the displayed box's bottom-left corner.
    origins: tuple[tuple[float, float], ...]


def measure(fill: TextFill, *, rotate: int = 0) -> Layout:
    """The layout of ``fill`` in its box on a page rotated by ``rotate`` degrees (/Rotate).

    Cheap (no PDF, no font subsetting): the check page of bulk sending calls it per row. Raises
    :class:`FillError` when the value does not fit, has a character without a glyph or a line
    break in a single-line field, or when the size or alignment is invalid.
    """
    if fill.align not in ("left", "center", "right"):
        raise FillError(f"unknown alignment {fill.align!r}", field=fill.name, code="fill_bad_spec")
    if fill.size is not None and not SIZE_RANGE[0] <= fill.size <= SIZE_RANGE[1]:
        raise FillError(
            "the font size must be {:g} to {:g} pt".format(*SIZE_RANGE),
            field=fill.name,
            code="fill_bad_spec",
        )
    if not all(math.isfinite(v) for v in fill.rect.as_tuple()):
        raise FillError("the box is not a finite rectangle", field=fill.name, code="fill_bad_spec")
    widths = cjkfont.advance_widths()
    paragraphs = _paragraphs(fill, widths)
    box_w, box_h = _displayed(fill.rect, rotate % 360)
    inner_w, inner_h = box_w - 2 * PADDING, box_h - 2 * PADDING
    sizes = [fill.size] if fill.size is not None else list(_size_ladder())
    if not paragraphs:
        return Layout(size=sizes[0], lines=(), origins=())
    for size in sizes:
        if size > inner_h or inner_w <= 0:
            continue
        avail = inner_w * cjkfont.UNITS_PER_EM / size
        lines = (
            [line for text in paragraphs for line in _wrap(text, avail, widths)]
            if fill.multiline
            else paragraphs
        )
        # A line can still be too wide: a single-line value, or one glyph wider than the box.
        if any(_units(line, widths) > avail for line in lines):
            continue
        leading = LINE_HEIGHT * size
        if (len(lines) - 1) * leading + size > inner_h + 1e-9:
            continue
        return _place(fill, lines, size, box_w, box_h, widths)
    what = "line" if not fill.multiline else "text"
    raise FillError(
        f"the {what} is too long for its box even at {sizes[-1]:g} pt "
        f"({len(fill.value)} characters)",
        field=fill.name,
        code="fill_too_long",
    )


def fits(fill: TextFill, *, rotate: int = 0) -> bool:
    """Whether :func:`measure` accepts ``fill`` (the value fits and can be drawn)."""
    try:
        measure(fill, rotate=rotate)
    except FillError:
        return False
    return True


def page_rotations(data: bytes) -> tuple[int, ...]:
    """Each page's /Rotate (0, 90, 180 or 270; inherited values included) as :func:`fill_text`
    reads it: the ``rotate`` to pass to :func:`measure` for a field on that page."""
    pdf = open_pikepdf(data)
    try:
        return tuple(_rotation(page.obj) for page in pdf.pages)
    except Exception as exc:  # qpdf raises many types on damaged page trees
        raise BrokenPdfError(f"the pages cannot be read: {error_text(exc)}") from exc
    finally:
        pdf.close()


def fill_text(data: bytes, fills: Sequence[TextFill]) -> bytes:
    """A new PDF with each value of ``fills`` drawn in its box as real text (see the module
    docstring). Raises :class:`FillError` for a value or box that cannot be used,
    :class:`PdfError` when the PDF cannot be read or already carries a signature, and
    :class:`~qianshu.signing.errors.ConfigurationError` when the font is missing."""
    pdf = open_pikepdf(data)
    try:
        if is_signed(pdf):
            raise PdfError(
                "the PDF already carries a signature: data fields can only be filled in "
                "before the first signature",
                code="already_signed",
            )
        try:
            return _fill(pdf, data, fills)
        except SigningError:
            raise
        except Exception as exc:  # qpdf raises many types on damaged page trees
            raise BrokenPdfError(f"the PDF cannot be filled in: {error_text(exc)}") from exc
    finally:
        pdf.close()


def _fill(pdf: pikepdf.Pdf, data: bytes, fills: Sequence[TextFill]) -> bytes:
    pages = list(pdf.pages)
    by_page: dict[int, list[tuple[TextFill, Layout, int]]] = {}
    for fill in fills:
        if not 0 <= fill.page < len(pages):
            raise FillError(
                f"page {fill.page + 1} does not exist (the document has {len(pages)})",
                field=fill.name,
                code="fill_no_page",
            )
        page = pages[fill.page]
        rotate = _rotation(page.obj)
        _check_box(fill, _visible_box(page))
        layout = measure(fill, rotate=rotate)
        if layout.lines:
            by_page.setdefault(fill.page, []).append((fill, layout, rotate))
    used = {ch for items in by_page.values() for _, lay, _ in items for ch in "".join(lay.lines)}
    chars = "".join(sorted(used))
    if not chars:
        return bytes(data)  # nothing to draw: no rewrite
    font = cjkfont.subset_cjk_font(chars)
    if not used <= font.cids.keys():  # measure() checked the full face: a broken font file
        raise ConfigurationError("the CJK font subset lacks characters the full font has")
    font_ref = cjkfont.embed_cjk_font(pdf, font)
    for index, items in sorted(by_page.items()):
        _draw_on_page(pdf, pages[index], font, font_ref, items)
    return _save(pdf)


def _draw_on_page(
    pdf: pikepdf.Pdf,
    page: pikepdf.Page,
    font: cjkfont.CjkFont,
    font_ref: pikepdf.Object,
    items: Sequence[tuple[TextFill, Layout, int]],
) -> None:
    name = _add_font_resource(page, font_ref)
    ops = [b"q 0 g 0 Tr"]
    for fill, layout, rotate in items:
        a, b, c, d, e, f = _matrix(fill.rect, rotate)
        ops.append(b"q %s cm BT %s %s Tf" % (_nums(a, b, c, d, e, f), name, _nums(layout.size)))
        for line, (x, y) in zip(layout.lines, layout.origins, strict=True):
            ops.append(b"1 0 0 1 %s Tm %s Tj" % (_nums(x, y), font.encode(line)))
        ops.append(b"ET Q")
    ops.append(b"Q")
    # Our own q for each Q the page has too many, and a Q for each q it leaves open: after
    # the page's content the graphics state is the initial one again.
    underflow, unclosed = _unbalanced_saves(page)
    page.contents_add(pdf.make_stream(b"q\n" * (1 + underflow)), prepend=True)
    page.contents_add(pdf.make_stream(b"\n" + b"Q\n" * (1 + unclosed) + b"\n".join(ops)))


def _paragraphs(fill: TextFill, widths: Mapping[str, int]) -> list[str]:
    value = fill.value.replace("\r\n", "\n").replace("\r", "\n")
    if "\n" in value and not fill.multiline:
        raise FillError(
            "a single-line field cannot hold a line break", field=fill.name, code="fill_line_break"
        )
    for ch in value:
        if ch != "\n" and (ch not in widths or unicodedata.category(ch) in ("Cc", "Cf")):
            raise FillError(
                f"the character {ch!r} (U+{ord(ch):04X}) cannot be written: the font has no "
                "glyph for it",
                field=fill.name,
                code="fill_missing_glyph",
                char=ch,
            )
    return value.split("\n") if value else []


def _size_ladder() -> Iterator[float]:
    steps = round((DEFAULT_SIZE - MIN_SIZE) / SIZE_STEP)
    for i in range(steps + 1):
        yield DEFAULT_SIZE - i * SIZE_STEP


def _units(text: str, widths: Mapping[str, int]) -> int:
    return sum(widths[ch] for ch in text)


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _can_break(text: str, i: int) -> bool:
    """Whether a line may end before ``text[i]``."""
    before, after = text[i - 1], text[i]
    if before == " " or after == " ":
        return True
    if after in _NO_LINE_START or before in _NO_LINE_END:
        return False
    return _wide(before) or _wide(after)


def _wrap(text: str, avail: float, widths: Mapping[str, int]) -> list[str]:
    """``text`` (one paragraph) in lines of at most ``avail`` font units (see the rules)."""
    lines: list[str] = []
    start, end = 0, len(text)
    while True:
        width, i, last_break = 0, start, 0
        while i < end:
            advance = widths[text[i]]
            if width + advance > avail and i > start and text[i] != " ":
                break
            width += advance
            i += 1
            if i < end and _can_break(text, i):
                last_break = i
        if i == end:
            lines.append(text[start:].rstrip(" "))
            return lines
        cut = last_break if last_break > start else i
        lines.append(text[start:cut].rstrip(" "))
        start = cut
        while start < end and text[start] == " ":
            start += 1
        if start == end:
            return lines


def _place(
    fill: TextFill,
    lines: list[str],
    size: float,
    box_w: float,
    box_h: float,
    widths: Mapping[str, int],
) -> Layout:
    inner_w = box_w - 2 * PADDING
    if fill.multiline:
        first = box_h - PADDING - _ASCENT * size
    else:
        first = (box_h - size) / 2 + _DESCENT * size
    origins = []
    for row, line in enumerate(lines):
        slack = inner_w - _units(line, widths) * size / cjkfont.UNITS_PER_EM
        shift = {"left": 0.0, "center": slack / 2, "right": slack}[fill.align]
        origins.append((PADDING + shift, first - row * LINE_HEIGHT * size))
    return Layout(size=size, lines=tuple(lines), origins=tuple(origins))


def _displayed(rect: Rect, rotate: int) -> tuple[float, float]:
    width, height = rect.x2 - rect.x1, rect.y2 - rect.y1
    return (height, width) if rotate in (90, 270) else (width, height)


def _matrix(rect: Rect, rotate: int) -> tuple[float, float, float, float, float, float]:
    """Maps the displayed box (origin its bottom-left corner as the viewer sees it, x to the
    viewer's right) into the page's user space: /Rotate turns the page clockwise."""
    if rotate == 90:
        return (0, 1, -1, 0, rect.x2, rect.y1)
    if rotate == 180:
        return (-1, 0, 0, -1, rect.x2, rect.y2)
    if rotate == 270:
        return (0, -1, 1, 0, rect.x1, rect.y2)
    return (1, 0, 0, 1, rect.x1, rect.y1)


def _inherited(obj: pikepdf.Dictionary, key: str) -> object:
    node: object = obj
    depth = 0
    while isinstance(node, pikepdf.Dictionary) and depth < 64:
        if key in node:
            return node[key]
        node = node.get("/Parent")
        depth += 1
    return None


def _rotation(obj: pikepdf.Dictionary) -> int:
    try:
        rotate = int(_inherited(obj, "/Rotate") or 0)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return 0
    return rotate % 360 if rotate % 90 == 0 else 0


def _visible_box(page: pikepdf.Page) -> Rect:
    """CropBox clipped to MediaBox, as viewers show it (like :func:`pages.page_size_of`)."""
    media = _normalised(page.mediabox)
    crop = _normalised(page.cropbox)
    x1, y1 = max(crop.x1, media.x1), max(crop.y1, media.y1)
    x2, y2 = min(crop.x2, media.x2), min(crop.y2, media.y2)
    return Rect(x1, y1, x2, y2) if x2 > x1 and y2 > y1 else media


def _normalised(box: pikepdf.Array) -> Rect:
    x1, y1, x2, y2 = (float(v) for v in box)
    return Rect(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def _check_box(fill: TextFill, box: Rect) -> None:
    r = fill.rect
    inside = (
        r.x1 >= box.x1 - _TOLERANCE
        and r.y1 >= box.y1 - _TOLERANCE
        and r.x2 <= box.x2 + _TOLERANCE
        and r.y2 <= box.y2 + _TOLERANCE
    )
    if not inside or r.x2 <= r.x1 or r.y2 <= r.y1:
        raise FillError(
            f"the box {tuple(round(v, 2) for v in r.as_tuple())} is not inside page "
            f"{fill.page + 1} {tuple(round(v, 2) for v in box.as_tuple())}",
            field=fill.name,
            code="fill_outside_page",
        )


def _add_font_resource(page: pikepdf.Page, font_ref: pikepdf.Object) -> bytes:
    """Put the fill font in the page's own copy of its resources (they may be inherited or
    shared with other pages); returns its name, one that does not clash."""
    inherited = _inherited(page.obj, "/Resources")
    resources = pikepdf.Dictionary()
    if isinstance(inherited, pikepdf.Dictionary):
        for key, value in inherited.items():
            resources[key] = value
    fonts = pikepdf.Dictionary()
    if isinstance(resources.get("/Font"), pikepdf.Dictionary):
        for key, value in resources.Font.items():
            fonts[key] = value
    name, n = _FONT_RESOURCE, 0
    while name in fonts:
        n += 1
        name = f"{_FONT_RESOURCE}{n}"
    fonts[name] = font_ref
    resources.Font = fonts
    page.obj.Resources = resources
    return name.encode("ascii")


def _unbalanced_saves(page: pikepdf.Page) -> tuple[int, int]:
    """How many ``Q`` the page's content has without a ``q`` before them, and how many ``q`` it
    leaves without their ``Q``."""
    try:
        operators = pikepdf.parse_content_stream(page, "q Q")
    except Exception:  # noqa: BLE001 - damaged content: viewers draw what they can
        return 0, 0
    underflow = depth = 0
    for instruction in operators:
        if str(instruction.operator) == "q":
            depth += 1
        elif depth:
            depth -= 1
        else:
            underflow += 1
    return underflow, depth


def _nums(*values: float) -> bytes:
    return b" ".join(pdf_number(v) for v in values)


def _save(pdf: pikepdf.Pdf) -> bytes:
    out = io.BytesIO()
    pdf.save(
        out,
        object_stream_mode=pikepdf.ObjectStreamMode.disable,
        compress_streams=True,
        recompress_flate=False,
        deterministic_id=True,
    )
    return out.getvalue()
