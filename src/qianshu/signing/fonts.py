"""The fonts the platform draws with, in one place: Debian's ``fonts-noto-cjk``.

Every drawing module takes a ``font_path`` argument defaulting to one of these, so a deployment
without Debian's paths passes its own. Debian's files are collections of the Japanese, Korean,
simplified and traditional Chinese faces; :data:`SC_FACE` is the index of the simplified
Chinese one (the seal code finds its face by name instead).
"""

from __future__ import annotations

NOTO = "/usr/share/fonts/opentype/noto"
SANS_REGULAR = f"{NOTO}/NotoSansCJK-Regular.ttc"  # text, reports, void statements, test PDFs
SANS_BOLD = f"{NOTO}/NotoSansCJK-Bold.ttc"  # report headings
SERIF_BOLD = f"{NOTO}/NotoSerifCJK-Bold.ttc"  # seals (looks like a real seal)
SC_FACE = 2  # "Noto Sans CJK SC" in Debian's collections


def collection_index(path: str) -> int:
    """The face to use in ``path``: the simplified Chinese one of a collection, else 0."""
    return SC_FACE if path.lower().endswith((".ttc", ".otc")) else 0
