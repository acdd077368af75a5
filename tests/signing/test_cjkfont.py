"""CJK font subsets (signing/cjkfont.py): a subset made by hb-subset keeps the CIDs of the full
Noto Sans CJK SC face — the PDF addresses glyphs by CID (``/Identity-H``) through the subset's
charset — and each CID draws the full face's glyph with its advance width."""

from __future__ import annotations

import io

import pytest
from fontTools.cffLib import CFFFontSet
from fontTools.pens.recordingPen import RecordingPen
from fontTools.ttLib import TTFont

from qianshu.signing import cjkfont

CHARS = "员工姓名张三考核等次优秀（）。，、：HR-00012 Page ✓"


@pytest.fixture(scope="module")
def full_face() -> TTFont:
    path = cjkfont.CJK_FONT_PATH
    return TTFont(str(path), fontNumber=cjkfont._find_sc_face(path), lazy=True)


def _program(font: cjkfont.CjkFont) -> object:
    fonts = CFFFontSet()
    fonts.decompile(io.BytesIO(font.cff), None)
    return fonts.topDictIndex[0]


def test_a_subset_keeps_the_cids_and_glyphs_of_the_full_face(full_face: TTFont) -> None:
    font = cjkfont.subset_cjk_font(CHARS)
    top = _program(font)
    assert top.ROS == ("Adobe", "Identity", 0)  # CID-keyed
    cmap = full_face.getBestCmap()
    full_glyphs = full_face.getGlyphSet()
    # Exactly .notdef and one glyph per distinct character, named by its CID.
    assert sorted(top.charset) == sorted({".notdef", *(cmap[ord(ch)] for ch in CHARS)})
    for ch in CHARS:
        name = cmap[ord(ch)]
        assert font.cids[ch] == int(name.removeprefix("cid"))
        ours, theirs = RecordingPen(), RecordingPen()
        top.CharStrings[name].draw(ours)
        full_glyphs[name].draw(theirs)
        assert ours.value == theirs.value, ch
        assert ours.value or ch == " ", ch  # drawn (only the space is empty)
        assert font.widths[font.cids[ch]] == full_face["hmtx"][name][0]
    assert 0 in font.widths  # .notdef


def test_subsets_are_deterministic_and_leave_out_what_the_face_lacks() -> None:
    first = cjkfont.subset_cjk_font("签署\U0001f600")
    cjkfont.subset_cjk_font.cache_clear()
    again = cjkfont.subset_cjk_font("签署\U0001f600")
    assert first == again
    assert set(first.cids) == {"签", "署"}
    assert first.base_font.endswith("+NotoSansCJKsc-Regular") and first.base_font[6] == "+"


def test_subsetting_many_gives_the_same_subsets_faster() -> None:
    """Inside :func:`cjkfont.subsetting_many` (批量发起) subsets come from the face HarfBuzz
    preprocessed: byte for byte the ones made without it, at a fraction of the cost."""
    import time

    texts = [f"员工{i:03d}考核 HR-{i:03d}" for i in range(12)]
    cjkfont.subset_cjk_font.cache_clear()
    start = time.process_time()
    plain = [cjkfont.subset_cjk_font(text) for text in texts]
    plain_cpu = time.process_time() - start
    cjkfont.subset_cjk_font.cache_clear()
    with cjkfont.subsetting_many():
        start = time.process_time()
        fast = [cjkfont.subset_cjk_font(text) for text in texts]
        fast_cpu = time.process_time() - start
    cjkfont.subset_cjk_font.cache_clear()
    assert fast == plain
    assert fast_cpu < plain_cpu / 3, (fast_cpu, plain_cpu)  # ~0.1 ms against ~3 ms each
    assert cjkfont._preprocessed.get() is None  # released with the block
