"""Data field values written into the page as real text (:mod:`qianshu.signing.filltext`).

The values must come back exactly from poppler's ``pdftotext``, be drawn with one embedded subset
font, land inside their boxes on rotated pages and pages with offset boxes (checked on PDFium's
rendering), be refused with the field named when they cannot be drawn, and leave a document that
the platform then certifies and signs: our verifier, pyHanko and pdfsig accept it.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pikepdf
import pypdfium2 as pdfium
import pytest
from fontTools.cffLib import CFFFontSet

from qianshu.signing import cjkfont, documents, filltext, pki
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.errors import PdfError
from qianshu.signing.filltext import FillError, TextFill
from qianshu.signing.samples import A4_PORTRAIT, make_test_pdf
from qianshu.signing.stamps import Rect
from qianshu.signing.verify import verify_pdf
from tests.signing import helpers
from tests.support import pdfsig

A4 = (595.0, 842.0)
NAME = "张三 Zhang San"
STAFF_NO = "工号 20250101"
SELF_REVIEW = (
    "本人在本年度认真履行岗位职责，按时完成教学与科研任务，发表论文3篇（SCI 2篇）。"
    "Completed all teaching duties in 2025 and supervised 4 master's students. "
    "来年将继续努力，提高教学质量。"
)


def blank_pdf(
    pages: int = 1,
    *,
    mediabox: tuple[float, float, float, float] = (0, 0, *A4),
    cropbox: tuple[float, float, float, float] | None = None,
    rotate: int = 0,
    content: bytes = b"",
) -> bytes:
    pdf = pikepdf.new()
    for _ in range(pages):
        page = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=list(mediabox))
        if cropbox is not None:
            page.CropBox = list(cropbox)
        if rotate:
            page.Rotate = rotate
        if content:
            page.Contents = pdf.make_stream(content)
        pdf.pages.append(pikepdf.Page(page))
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True)
    return out.getvalue()


def pdftotext(data: bytes, *args: str) -> str:
    proc = subprocess.run(
        ["pdftotext", *args, "-", "-"], input=data, capture_output=True, check=True, timeout=60
    )
    return proc.stdout.decode("utf-8")


def page_lines(data: bytes) -> list[str]:
    return [line for line in pdftotext(data).splitlines() if line.strip() and line != "\f"]


def render(data: bytes, page: int = 0) -> np.ndarray:
    """A page rendered by PDFium at 72 dpi in grey (one pixel per point, the page as
    displayed: rotated, cropped, origin top-left)."""
    doc = pdfium.PdfDocument(data)
    try:
        return np.array(doc[page].render(scale=1).to_pil().convert("L")).astype(int)
    finally:
        doc.close()


def ink_box(data: bytes, page: int = 0, *, before: bytes | None = None) -> tuple[int, ...]:
    """(left, top, right, bottom) of the dark pixels of a page, or with ``before`` of the
    pixels that became dark since then."""
    image = render(data, page)
    dark = image < 128
    if before is not None:
        dark &= render(before, page) - image > 64
    ys, xs = np.nonzero(dark)
    assert len(xs), "nothing was drawn"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def displayed(rect: Rect, visible: Rect, rotate: int) -> tuple[float, float, float, float]:
    """``rect`` (unrotated user space) as (left, top, right, bottom) on the displayed page."""
    corners = [(x, y) for x in (rect.x1, rect.x2) for y in (rect.y1, rect.y2)]
    width, height = visible.width, visible.height

    def show(x: float, y: float) -> tuple[float, float]:
        u, v = x - visible.x1, y - visible.y1  # from the unrotated bottom-left corner
        return {
            0: (u, height - v),
            90: (v, u),
            180: (width - u, v),
            270: (height - v, width - u),
        }[rotate]

    points = [show(x, y) for x, y in corners]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def assert_inside(ink: tuple[int, ...], box: tuple[float, ...]) -> None:
    left, top, right, bottom = box
    assert ink[0] >= left - 1 and ink[1] >= top - 1, (ink, box)
    assert ink[2] <= right + 1 and ink[3] <= bottom + 1, (ink, box)


def form_fills() -> list[TextFill]:
    return [
        TextFill("姓名", 0, Rect(100, 760, 300, 780), NAME),
        TextFill("工号", 0, Rect(100, 720, 300, 740), STAFF_NO),
        TextFill("金额", 0, Rect(100, 680, 300, 700), "¥123,456.00", align="right"),
        TextFill("日期", 0, Rect(100, 640, 300, 660), "2025年12月31日", align="center"),
        TextFill("同意", 0, Rect(100, 600, 120, 620), filltext.CHECK_MARK, align="center"),
        TextFill("自评", 0, Rect(100, 420, 300, 580), SELF_REVIEW, multiline=True),
    ]


@pytest.fixture(scope="module")
def filled() -> bytes:
    return filltext.fill_text(blank_pdf(), form_fills())


# --- the values are real text ------------------------------------------------------------


def test_pdftotext_gives_back_every_single_line_value(filled: bytes) -> None:
    lines = page_lines(filled)
    for value in (NAME, STAFF_NO, "¥123,456.00", "2025年12月31日", filltext.CHECK_MARK):
        assert value in lines, (value, lines)
    layout_text = pdftotext(filled, "-layout")
    for value in (NAME, STAFF_NO, "¥123,456.00", "2025年12月31日"):
        assert value in layout_text


def test_multiline_value_is_wrapped_in_reading_order(filled: bytes) -> None:
    fill = form_fills()[-1]
    layout = filltext.measure(fill)
    assert len(layout.lines) > 3
    lines = page_lines(filled)
    start = lines.index(layout.lines[0])
    assert lines[start : start + len(layout.lines)] == list(layout.lines)
    # Nothing is lost or reordered: only the spaces at the line breaks are not drawn.
    assert "".join(layout.lines).replace(" ", "") == SELF_REVIEW.replace(" ", "")
    assert " ".join(pdftotext(filled, "-layout").split()).count("supervised 4 master's") == 1


def test_wrapping_rules() -> None:
    # Latin words are kept whole, CJK text breaks anywhere but before closing punctuation.
    words = "Completed all teaching duties in 2025 and supervised four master's students"
    latin = filltext.measure(TextFill("w", 0, Rect(0, 0, 120, 200), words, multiline=True))
    assert len(latin.lines) > 2
    assert all(word in words.split() for line in latin.lines for word in line.split())
    assert " ".join(latin.lines) == words
    for width in range(40, 200, 7):
        layout = filltext.measure(
            TextFill("c", 0, Rect(0, 0, width, 800), SELF_REVIEW, multiline=True)
        )
        assert not any(line[:1] in "，。）、" for line in layout.lines), layout.lines
        assert not any(line.endswith("（") for line in layout.lines), layout.lines
        widths = cjkfont.advance_widths()
        for line in layout.lines:
            assert sum(widths[ch] for ch in line) * layout.size / 1000 <= width - 4 + 1e-6
    # Explicit line breaks start new lines; an empty line stays empty.
    layout = filltext.measure(TextFill("p", 0, Rect(0, 0, 300, 100), "一\r\n\n二", multiline=True))
    assert layout.lines == ("一", "", "二")
    # A word wider than the box is broken by character rather than refused.
    long_word = filltext.measure(TextFill("l", 0, Rect(0, 0, 40, 200), "x" * 30, multiline=True))
    assert "".join(long_word.lines) == "x" * 30


def test_values_shrink_to_fit_down_to_the_minimum_size() -> None:
    box = Rect(0, 0, 100, 20)
    assert filltext.measure(TextFill("a", 0, box, "短")).size == filltext.DEFAULT_SIZE
    shrunk = filltext.measure(TextFill("a", 0, box, "一二三四五六七八九十一二"))
    assert filltext.MIN_SIZE <= shrunk.size < filltext.DEFAULT_SIZE
    with pytest.raises(FillError):
        filltext.measure(TextFill("a", 0, box, "一二三四五六七八九十一二", size=10.5))
    assert filltext.measure(TextFill("a", 0, box, "一二三", size=14)).size == 14


def test_the_font_is_embedded_once_as_a_subset_of_the_used_glyphs() -> None:
    fills = [
        TextFill(f"f{page}", page, Rect(100, 700, 400, 720), f"第{page + 1}页 页码 Page {page}")
        for page in range(3)
    ]
    out = filltext.fill_text(blank_pdf(3), fills)
    used = set("".join(fill.value for fill in fills))
    with pikepdf.open(io.BytesIO(out)) as pdf:
        programs = [
            obj
            for obj in pdf.objects
            if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == "/CIDFontType0C"
        ]
        assert len(programs) == 1
        program = programs[0].read_bytes()
        font_refs = {page.Resources.Font["/QSFill"].objgen for page in pdf.pages}
        assert len(font_refs) == 1
        type0 = pdf.pages[0].Resources.Font["/QSFill"]
        assert type0.Encoding == "/Identity-H" and "/ToUnicode" in type0
        assert "/W" in type0.DescendantFonts[0]
    assert len(program) < Path(cjkfont.CJK_FONT_PATH).stat().st_size / 1000
    cff = CFFFontSet()
    cff.decompile(io.BytesIO(program), None)
    glyphs = set(cff[cff.fontNames[0]].charset)
    # CID-keyed: the glyph names are the CIDs; only .notdef and the used characters remain.
    assert len(glyphs) == len(used) + 1
    assert page_lines(out)[:1] == ["第1页 页码 Page 0"]


def test_the_check_mark_has_a_glyph_and_empty_boxes_do_not() -> None:
    assert filltext.fits(TextFill("ok", 0, Rect(0, 0, 20, 20), filltext.CHECK_MARK))
    for box_char in "☐☑":
        assert not filltext.fits(TextFill("ok", 0, Rect(0, 0, 20, 20), box_char))


def test_empty_values_leave_the_document_as_it_was() -> None:
    data = blank_pdf()
    assert filltext.fill_text(data, [TextFill("empty", 0, Rect(100, 100, 200, 120), "")]) == data
    assert filltext.fill_text(data, []) == data
    # ... but a bad box is still refused.
    with pytest.raises(FillError):
        filltext.fill_text(data, [TextFill("empty", 0, Rect(100, 100, 900, 120), "")])


# --- geometry ----------------------------------------------------------------------------


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
@pytest.mark.parametrize("multiline", [False, True], ids=["single", "multi"])
def test_rotated_pages_show_upright_text_inside_the_box(rotate: int, multiline: bool) -> None:
    # A box that is wide as the viewer sees it: tall in user space on 90 and 270 degree pages.
    rect = Rect(100, 150, 400, 200) if rotate in (0, 180) else Rect(100, 150, 150, 450)
    value = "旋转页面 Rotated page 2025" + ("，第二行的文字 second line" if multiline else "")
    fill = TextFill("rot", 0, rect, value, multiline=multiline)
    out = filltext.fill_text(blank_pdf(rotate=rotate), [fill])
    ink = ink_box(out)
    assert_inside(ink, displayed(rect, Rect(0, 0, *A4), rotate))
    if not multiline:
        assert ink[2] - ink[0] > 5 * (ink[3] - ink[1]), "the line must read left to right"
    text = " ".join(page_lines(out))
    assert text.replace(" ", "") == value.replace(" ", "")


def test_offset_boxes_and_a_leaky_page_state_do_not_move_the_text() -> None:
    # The page's content restores a state it never saved, scales by 3, paints in red and
    # never restores its state.
    media = (200.0, 300.0, 795.0, 1142.0)
    crop = Rect(250, 350, 745, 1092)
    data = blank_pdf(
        mediabox=media,
        cropbox=crop.as_tuple(),
        content=b"Q q 3 0 0 3 0 0 cm 1 0 0 rg 2 w q",
    )
    rect = Rect(300, 900, 600, 930)
    out = filltext.fill_text(data, [TextFill("offset", 0, rect, "偏移的页面 Offset 42")])
    assert_inside(ink_box(out), displayed(rect, crop, 0))
    assert page_lines(out) == ["偏移的页面 Offset 42"]
    doc = pdfium.PdfDocument(out)
    image = np.array(doc[0].render(scale=1).to_pil().convert("RGB")).astype(int)
    doc.close()
    dark = image[image.sum(axis=2) < 300]
    assert len(dark) and np.abs(dark[:, 0] - dark[:, 2]).max() < 40, "the text must be black"
    with pikepdf.open(io.BytesIO(out)) as pdf:
        depth = 0
        for instruction in pikepdf.parse_content_stream(pdf.pages[0], "q Q"):
            depth += 1 if str(instruction.operator) == "q" else -1
            assert depth >= 0
        assert depth == 0


def test_inherited_rotation_and_resources_are_honoured() -> None:
    pdf = pikepdf.new()
    helvetica = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
    )
    for number in (1, 2):
        content = b"BT /F1 12 Tf 72 500 Td (Inherited page %d) Tj ET" % number
        page = pikepdf.Dictionary(Type=pikepdf.Name.Page, Contents=pdf.make_stream(content))
        pdf.pages.append(pikepdf.Page(page))
    # Set after adding the pages: qpdf pushes inherited attributes down when pages are added.
    pdf.Root.Pages.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=helvetica))
    pdf.Root.Pages.Rotate = 90
    pdf.Root.Pages.MediaBox = [0, 0, *A4]
    for page in pdf.pages:
        assert "/Rotate" not in page.obj and "/Resources" not in page.obj
    out = io.BytesIO()
    pdf.save(out)
    rect = Rect(300, 100, 330, 400)
    filled = filltext.fill_text(out.getvalue(), [TextFill("i", 1, rect, "继承的旋转 Inherited")])
    assert filltext.page_rotations(out.getvalue()) == (90, 90)
    text = pdftotext(filled)
    assert "Inherited page 1" in text and "Inherited page 2" in text
    assert "继承的旋转 Inherited" in text
    ink = ink_box(filled, page=1, before=out.getvalue())
    assert_inside(ink, displayed(rect, Rect(0, 0, *A4), 90))
    assert ink[2] - ink[0] > 5 * (ink[3] - ink[1])


def test_text_on_a_sample_contract_keeps_the_page_text() -> None:
    data = make_test_pdf(2, rotations=[0, 90])
    before = pdftotext(data)
    rect = Rect(500, 200, 530, 600)
    out = filltext.fill_text(data, [TextFill("备注", 1, rect, "第二页旋转 Note 7")])
    assert_inside(ink_box(out, 1, before=data), displayed(rect, Rect(0, 0, *A4_PORTRAIT), 90))
    after = pdftotext(out)
    assert "第二页旋转 Note 7" in after
    for line in before.splitlines():
        assert line in after


# --- refusals ----------------------------------------------------------------------------


def test_a_single_line_too_long_is_refused_naming_the_field() -> None:
    fill = TextFill("部门", 0, Rect(100, 700, 160, 720), "马克思主义学院思想政治教育教研室")
    assert not filltext.fits(fill)
    with pytest.raises(FillError) as info:
        filltext.fill_text(blank_pdf(), [*form_fills(), fill])
    assert info.value.field == "部门" and info.value.code == "fill_too_long"
    assert "部门" in str(info.value) and "too long" in str(info.value)


def test_a_multiline_text_with_too_many_lines_is_refused() -> None:
    fill = TextFill("自评", 0, Rect(100, 400, 300, 440), SELF_REVIEW * 2, multiline=True)
    assert not filltext.fits(fill)
    with pytest.raises(FillError) as info:
        filltext.fill_text(blank_pdf(), [fill])
    assert (info.value.field, info.value.code) == ("自评", "fill_too_long")


def test_a_box_narrower_than_one_glyph_is_refused() -> None:
    for multiline in (False, True):
        fill = TextFill("窄", 0, Rect(100, 100, 108, 300), "字", multiline=multiline)
        with pytest.raises(FillError) as info:
            filltext.measure(fill)
        assert info.value.code == "fill_too_long"


@pytest.mark.parametrize("size", [0, -3, 3.9, 72.5])
def test_an_unusable_size_or_alignment_is_refused(size: float) -> None:
    with pytest.raises(FillError) as info:
        filltext.measure(TextFill("s", 0, Rect(0, 0, 300, 100), "1", size=size))
    assert info.value.code == "fill_bad_spec"
    with pytest.raises(FillError):
        filltext.measure(TextFill("s", 0, Rect(0, 0, 300, 100), "1", align="justify"))
    with pytest.raises(FillError):
        filltext.measure(TextFill("s", 0, Rect(0, 0, float("nan"), 100), "1"))  # type: ignore[arg-type]


@pytest.mark.parametrize("rotate", [0, 90])
def test_fits_and_fill_text_agree(rotate: int) -> None:
    data = blank_pdf(rotate=rotate)
    assert filltext.page_rotations(data) == (rotate,)
    boxes = (Rect(100, 700, 250, 720), Rect(100, 600, 200, 640))
    if rotate:  # the same boxes as the viewer sees them
        boxes = (Rect(100, 100, 120, 250), Rect(100, 100, 140, 200))
    for length in range(1, 60, 3):
        for multiline, rect in zip((False, True), boxes, strict=True):
            fill = TextFill("x", 0, rect, (SELF_REVIEW * 2)[:length], multiline=multiline)
            try:
                filltext.fill_text(data, [fill])
                accepted = True
            except FillError:
                accepted = False
            assert filltext.fits(fill, rotate=rotate) == accepted, (length, multiline)
            # The box as displayed decides: without the page's rotation the answer differs.
            if rotate and not multiline and length > 3:
                assert not filltext.fits(fill)


@pytest.mark.parametrize("char", ["😀", "\t", "\u200b"])
def test_a_character_without_a_glyph_is_refused(char: str) -> None:
    fill = TextFill("备注", 0, Rect(100, 700, 400, 720), f"好的{char}")
    with pytest.raises(FillError) as info:
        filltext.fill_text(blank_pdf(), [fill])
    assert info.value.code == "fill_missing_glyph"
    assert (info.value.field, info.value.char) == ("备注", char)
    assert f"U+{ord(char):04X}" in str(info.value)


def test_a_line_break_in_a_single_line_field_is_refused() -> None:
    with pytest.raises(FillError) as info:
        filltext.measure(TextFill("姓名", 0, Rect(0, 0, 300, 20), "张\n三"))
    assert info.value.code == "fill_line_break"


@pytest.mark.parametrize(
    ("page", "rect", "code"),
    [
        (1, Rect(100, 100, 200, 120), "fill_no_page"),
        (-1, Rect(100, 100, 200, 120), "fill_no_page"),
        (0, Rect(500, 100, 700, 120), "fill_outside_page"),
        (0, Rect(100, -40, 200, -20), "fill_outside_page"),
        (0, Rect(200, 100, 100, 120), "fill_outside_page"),
    ],
)
def test_a_box_that_is_not_on_a_page_is_refused(page: int, rect: Rect, code: str) -> None:
    with pytest.raises(FillError) as info:
        filltext.fill_text(blank_pdf(), [TextFill("box", page, rect, "1")])
    assert (info.value.field, info.value.code) == ("box", code)


def test_a_box_outside_an_offset_crop_box_is_refused() -> None:
    data = blank_pdf(mediabox=(200, 300, 795, 1142), cropbox=(250, 350, 745, 1092))
    with pytest.raises(FillError) as info:
        filltext.fill_text(data, [TextFill("box", 0, Rect(100, 100, 200, 120), "1")])
    assert info.value.code == "fill_outside_page"


@pytest.mark.parametrize("certify", [True, False], ids=["certified", "approval"])
def test_a_signed_document_is_never_rewritten(certify: bool) -> None:
    platform = helpers.make_platform()
    prepared = documents.prepare_document(
        helpers.make_pdf(1),
        helpers.DEFAULT_FIELDS,
        certifier=platform.certifier,
        timestamper=None,
        certify=certify,
    )
    with pytest.raises(PdfError) as info:
        filltext.fill_text(prepared, [TextFill("a", 0, Rect(300, 700, 400, 720), "1")])
    assert info.value.code == "already_signed"


# --- scale and signing -------------------------------------------------------------------


def test_two_hundred_fields_on_ten_pages() -> None:
    fills = [
        TextFill(f"f{i}", i % 10, Rect(60, 800 - 36 * (i // 10), 300, 820 - 36 * (i // 10)), v)
        for i in range(200)
        for v in [f"第{i}项 Item {i:03d} 数值{i * 7}"]
    ]
    out = filltext.fill_text(blank_pdf(10), fills)
    text = pdftotext(out)
    assert all(fill.value in text for fill in fills)
    with pikepdf.open(io.BytesIO(out)) as pdf:
        assert len(pdf.pages) == 10
        assert (
            sum(
                isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == "/CIDFontType0C"
                for obj in pdf.objects
            )
            == 1
        )


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return helpers.make_platform()


@pytest.fixture(scope="module")
def signed_filled(platform: EphemeralPlatform) -> bytes:
    filled = filltext.fill_text(make_test_pdf(1), form_fills())
    prepared = helpers.prepare(platform, filled)
    signed, _ = helpers.sign_person(platform, prepared)
    return signed


def test_a_filled_document_is_certified_and_signed(
    signed_filled: bytes, platform: EphemeralPlatform
) -> None:
    report = verify_pdf(signed_filled, platform.trust)
    assert report.verdict == "valid", report.reason
    assert len(report.signatures) == 2
    for sig in report.signatures:
        assert sig.intact and sig.valid and sig.trusted, sig
        assert sig.modification_level in ("none", "form_filling"), sig
    assert NAME in page_lines(signed_filled)
    doc = pdfium.PdfDocument(signed_filled)
    assert len(doc) == 1
    doc.close()


@pytest.mark.skipif(not pdfsig.available(), reason="poppler-utils / libnss3-tools / gcc missing")
def test_pdfsig_trusts_the_signatures_over_filled_text(
    signed_filled: bytes, platform: EphemeralPlatform, tmp_path: Path
) -> None:
    db = pdfsig.nss_db(tmp_path, [pki.certificate_pem(platform.pki.root.certificate)])
    path = tmp_path / "filled.pdf"
    path.write_bytes(signed_filled)
    result = pdfsig.run_pdfsig(path, db, tmp_path)
    pdfsig.assert_all_trusted(result)
    by_field = {sig.field_name: sig for sig in result.signatures}
    assert by_field["QS-Certification"].signature_valid, result.output
    assert by_field[helpers.PERSON_FIELD].whole_document, result.output
