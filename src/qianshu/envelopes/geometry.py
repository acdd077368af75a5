"""Page geometry shared by the field editor, the signing page and the signing action.

Browsers work in fractions of the displayed page (0–1, origin top-left); fields are stored in
PDF points in the page's unrotated user space (origin bottom-left), which is what signature
widgets use. Page rotation is flattened when a document is added, so the two spaces differ
only by the page box offset and the flipped y axis.
"""

from __future__ import annotations

from qianshu.signing.stamps import Rect

# Default sizes of new fields, in PDF points (a 42 mm seal is ~119 pt).
SIGNATURE_SIZE = (120.0, 48.0)
SEAL_SIZE = (119.0, 119.0)
DATE_SIZE = (110.0, 22.0)
TEXT_SIZE = (160.0, 22.0)
MIN_SIDE_PT = 12.0
CROSS_PAGE_SEAL_PT = 119.0  # the whole seal, cut into one strip per page


def to_pdf(box: Rect, left: float, top: float, width: float, height: float) -> Rect:
    """A rectangle given in fractions of the page (origin top-left) in PDF points."""
    x1 = box.x1 + left * box.width
    x2 = x1 + width * box.width
    y2 = box.y2 - top * box.height
    y1 = y2 - height * box.height
    return Rect(x1, y1, x2, y2)


def to_fractions(box: Rect, rect: Rect) -> dict[str, float]:
    """The inverse of :func:`to_pdf`, rounded for JSON."""
    return {
        "left": round((rect.x1 - box.x1) / box.width, 6),
        "top": round((box.y2 - rect.y2) / box.height, 6),
        "width": round(rect.width / box.width, 6),
        "height": round(rect.height / box.height, 6),
    }


def fits(box: Rect, rect: Rect, tolerance: float = 1.0) -> bool:
    """Whether ``rect`` lies on the page and is not too small."""
    return (
        rect.width >= MIN_SIDE_PT
        and rect.height >= MIN_SIDE_PT
        and rect.x1 >= box.x1 - tolerance
        and rect.y1 >= box.y1 - tolerance
        and rect.x2 <= box.x2 + tolerance
        and rect.y2 <= box.y2 + tolerance
    )
