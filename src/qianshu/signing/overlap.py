"""Does a new appearance paint over page content? Measured on rendered pixels (PDFium).

The region of the widget is rendered as the page looked in the revision before the change
and as it looks after it, form fields and annotations included. A pixel is *content* when it
is inked before the change (not near-white), grown by :data:`GROW_PT` so that strokes added
right next to a glyph (turning a "1" into a "4") count too; it is *painted over* when the
change alters it. The appearance covers content when at least :data:`MIN_PIXELS` content
pixels are altered — an appearance drawn next to the text, or a transparent seal image
whose ink lies beside the text, does not.

PDFium is loaded only when a check is needed (most documents never need one).
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

SCALE = 2.0  # pixels per PDF point
GROW_PT = 1.5
MIN_PIXELS = 8
INK = 200  # a channel value below this is ink
CHANGED = 48  # a channel that moved by more than this changed
MARGIN_PT = 2.0
_MAX_TEXT = 80

Rect = tuple[float, float, float, float]


def _region(page: Any, rect: Rect) -> tuple[int, int, int, int]:
    """The widget rectangle (plus a margin) in device pixels of a full render at SCALE."""
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


def _render(data: bytes, page_index: int, rect: Rect) -> tuple[Any, str]:
    """The widget's region rendered (RGB array) and the page text under it."""
    import numpy as np
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        pdf.init_forms()
        page = pdf[page_index]
        left, top, right, bottom = _region(page, rect)
        if right - left < 1 or bottom - top < 1:
            return np.zeros((0, 0, 3), dtype=np.uint8), ""
        width = math.ceil(page.get_width() * SCALE)
        height = math.ceil(page.get_height() * SCALE)
        crop = (left / SCALE, (height - bottom) / SCALE, (width - right) / SCALE, top / SCALE)
        bitmap = page.render(
            scale=SCALE, crop=crop, may_draw_forms=True, draw_annots=True, rev_byteorder=True
        )
        pixels = np.array(bitmap.to_numpy()[:, :, :3], copy=True)
        text = page.get_textpage().get_text_bounded(*rect)
        return pixels, " ".join(text.split())
    finally:
        pdf.close()


def covered_content(before: bytes, after: bytes, page_index: int, rect: Rect) -> str | None:
    """What ``after`` paints over in ``rect`` on the page (the text there, or "graphics"),
    or None when the change only touches blank parts of the page.

    ``before`` and ``after`` are the whole document at two revisions.
    """
    import numpy as np

    old, text = _render(before, page_index, rect)
    new, _ = _render(after, page_index, rect)
    if old.size == 0 or old.shape != new.shape:
        return None if old.shape == new.shape else "graphics"
    ink = old.min(axis=2) < INK
    grow = max(1, round(GROW_PT * SCALE))
    content = ink.copy()
    for dy in range(-grow, grow + 1):
        for dx in range(-grow, grow + 1):
            content |= np.roll(np.roll(ink, dy, axis=0), dx, axis=1)
    changed = (np.abs(old.astype(np.int16) - new.astype(np.int16)) > CHANGED).any(axis=2)
    if int((changed & content).sum()) < MIN_PIXELS:
        return None
    return (text[:_MAX_TEXT] + ("…" if len(text) > _MAX_TEXT else "")) or "graphics"
