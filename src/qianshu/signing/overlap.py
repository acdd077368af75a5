"""Does a new appearance paint over page content? Measured on rendered pixels (PDFium).

The region of the widget is rendered as the page looked in the revision before the change
and as it looks after it, form fields and annotations included. A pixel is *content* when it
is inked before the change (not near-white). Two outcomes matter:

* the change **hides** content: at least :data:`MIN_PIXELS` content pixels became much
  lighter (luminance up by more than :data:`HIDDEN_LIGHTER`) — an opaque patch laid over
  text, the way the forged amount is shown, or any appearance that paints the page's
  printed text out of sight;
* the change **draws over** content: it alters at least :data:`MIN_PIXELS` pixels of the
  content grown by :data:`GROW_PT` (so strokes added right next to a glyph count) without
  hiding it — ink of a handwritten signature through a printed label, a seal stamped over a
  company name (multiplied with the page, or in a strong colour over black text).

An appearance drawn beside the text, or a transparent seal image whose ink lies beside it,
does neither. PDFium and Pillow are loaded only when a check is needed (most documents never
need one), and a region with no ink before the change is not rendered after it (a seal in
the margin, a signature in a blank box: nothing there can be hidden or drawn over).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

SCALE = 2.0  # pixels per PDF point
GROW_PT = 1.5
MIN_PIXELS = 8
INK = 200  # a channel value below this is ink
CHANGED = 48  # a channel that moved by more than this changed
HIDDEN_LIGHTER = 96  # content whose luminance rose by more than this is hidden
MARGIN_PT = 2.0
_MAX_TEXT = 80

Rect = tuple[float, float, float, float]


def _region(page: Any, rect: Rect) -> tuple[int, int, int, int]:
    """The widget rectangle (plus a margin) in device pixels of a full render at SCALE."""
    import ctypes  # like pypdfium2, only when a page is rendered

    import pypdfium2.raw as pdfium_c

    width = math.ceil(page.get_width() * SCALE)
    height = math.ceil(page.get_height() * SCALE)
    xs, ys = [], []
    x1, y1, x2, y2 = rect
    for px, py in (
        (x1 - MARGIN_PT, y1 - MARGIN_PT),
        (x2 + MARGIN_PT, y2 + MARGIN_PT),
        (x1 - MARGIN_PT, y2 + MARGIN_PT),
        (x2 + MARGIN_PT, y1 - MARGIN_PT),
    ):
        dx, dy = ctypes.c_int(), ctypes.c_int()
        if not pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, width, height, 0, px, py, dx, dy):
            raise ValueError("cannot map the widget rectangle")
        xs.append(dx.value)
        ys.append(dy.value)
    left, right = max(0, min(xs)), min(width, max(xs))
    top, bottom = max(0, min(ys)), min(height, max(ys))
    return left, top, right, bottom


def _render(data: bytes, page_index: int, rect: Rect) -> Image.Image | None:
    """The widget's region rendered (RGB), or None when the region lies off the page."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        pdf.init_forms()
        page = pdf[page_index]
        left, top, right, bottom = _region(page, rect)
        if right - left < 1 or bottom - top < 1:
            return None
        width = math.ceil(page.get_width() * SCALE)
        height = math.ceil(page.get_height() * SCALE)
        crop = (left / SCALE, (height - bottom) / SCALE, (width - right) / SCALE, top / SCALE)
        bitmap = page.render(
            scale=SCALE, crop=crop, may_draw_forms=True, draw_annots=True, rev_byteorder=True
        )
        return bitmap.to_pil().convert("RGB")
    finally:
        pdf.close()


def _label(data: bytes, page_index: int, rect: Rect) -> str:
    """The page text in ``rect`` (shortened), or "graphics". Read only for a finding: the
    text page costs as much as the render (CJK fonts)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        text = " ".join(pdf[page_index].get_textpage().get_text_bounded(*rect).split())
    finally:
        pdf.close()
    return (text[:_MAX_TEXT] + ("…" if len(text) > _MAX_TEXT else "")) or "graphics"


@dataclass(frozen=True)
class Coverage:
    """What a change does to the page content under a widget."""

    hides: bool  # False: it only draws over it
    text: str  # the page text there, or "graphics"


def _mask(image: Image.Image, threshold: int, *, below: bool) -> Image.Image:
    """An L mask (255 / 0) of the pixels with *any* channel below (or above) ``threshold``."""
    from PIL import ImageChops

    if below:
        bands = [band.point(lambda v: 255 if v < threshold else 0) for band in image.split()]
    else:
        bands = [band.point(lambda v: 255 if v > threshold else 0) for band in image.split()]
    mask = bands[0]
    for band in bands[1:]:
        mask = ImageChops.lighter(mask, band)
    return mask


def _count(mask: Image.Image) -> int:
    return mask.histogram()[255]


def covered_content(before: bytes, after: bytes, page_index: int, rect: Rect) -> Coverage | None:
    """What ``after`` does to the content in ``rect`` on the page, or None when the change only
    touches blank parts of it. ``before`` and ``after`` are the whole document at two
    revisions."""
    from PIL import ImageChops, ImageFilter

    old = _render(before, page_index, rect)
    if old is None:
        return None
    ink = _mask(old, INK, below=True)
    if _count(ink) == 0:
        return None  # nothing there to hide or draw over (the usual case: not rendered twice)
    new = _render(after, page_index, rect)
    if new is None or new.size != old.size:
        return Coverage(True, _label(before, page_index, rect))
    # Luminance with the coefficients of ITU-R 601 (Pillow's "L"), rounded to integers.
    lighter = ImageChops.subtract(new.convert("L"), old.convert("L"))
    hidden = ImageChops.multiply(ink, lighter.point(lambda v: 255 if v > HIDDEN_LIGHTER else 0))
    if _count(hidden) >= MIN_PIXELS:
        return Coverage(True, _label(before, page_index, rect))
    grow = max(1, round(GROW_PT * SCALE))
    content = ink.filter(ImageFilter.MaxFilter(2 * grow + 1))
    changed = _mask(ImageChops.difference(old, new), CHANGED, below=False)
    if _count(ImageChops.multiply(changed, content)) < MIN_PIXELS:
        return None
    return Coverage(False, _label(before, page_index, rect))
