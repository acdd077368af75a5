"""The employment agreement (就业协议书) and termination letter (解约函) PDFs
(:mod:`qianshu.employment.documents`).

Every value must come back from poppler's ``pdftotext``; the spots must be on the last page, inside
it, apart from each other and blank on PDFium's rendering with no character of PDFium's text
layer in them; user input that cannot be printed is refused naming the field, PDF syntax stays
text; the PDF passes upload ingest unchanged in substance, and the parties sign in the spots with
signatures our verifier accepts.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Any

import numpy as np
import pypdfium2 as pdfium
import pytest

from qianshu.employment.documents import (
    DATE_SIZE,
    MAX_PAGES,
    PAGE_SIZE,
    SEAL_SIZE,
    SIGNATURE_SIZE,
    SPOTS,
    AgreementData,
    ArchiveInfo,
    DocumentTextError,
    DocumentTooLongError,
    EmployerInfo,
    HukouInfo,
    RenderedPdf,
    StudentInfo,
    TerminationData,
    Terms,
    render_agreement,
    render_termination_letter,
)
from qianshu.signing.documents import FieldSpec
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.ingest import ingest_pdf
from qianshu.signing.stamps import Rect
from qianshu.signing.verify import verify_pdf
from tests.signing import helpers
from tests.signing.test_filltext import pdftotext, render

STUDENT = StudentInfo(
    name="黄河水",
    student_no="20191009",
    id_number_masked="420106********1234",
    school="武汉示例大学",
    college="计算机科学与技术学院",
    major="计算机应用技术",
    class_name="软件3班",
    year="2026届",
    phone="13800138000",
)
EMPLOYER = EmployerInfo(
    name="星光集团（湖北）科技发展有限公司",
    credit_code="911306007216356986",
    nature="其他企业",
    industry="信息传输、软件和信息技术服务业",
    location="湖北省武汉市",
    address="湖北省武汉市东湖新技术开发区光谷大道77号金融港B座18楼",
    contact="李经理",
    contact_phone="027-87654321",
)
OTHER_TERMS = (
    "1. 甲方为乙方缴纳养老、医疗、失业、工伤、生育保险及住房公积金，缴费基数按乙方实际工资确定。"
    "2. 乙方在试用期内的工资为转正后工资的80%，试用期满考核合格后按 12,000 元/月 发放。"
    "3. 甲方提供员工宿舍（Room 1208, Block B）或每月 1,500 元住房补贴，由乙方自行选择。\n"
    "4. 乙方服务期为三年，服务期内乙方提出解除劳动合同的，应按甲方实际支付的培训费用"
    "（按服务期未履行部分折算）承担违约金。Training costs are repaid pro rata."
)
TERMS = Terms(
    position="软件开发工程师",
    contract_term="三年",
    salary="税前月薪12000元",
    work_place="湖北省武汉市东湖新技术开发区",
    probation="六个月",
    other_terms=OTHER_TERMS,
)
ARCHIVE = ArchiveInfo(
    unit="武汉市人才服务中心",
    address="湖北省武汉市江汉区新华路218号",
    postcode="430022",
    contact="王老师",
    phone="027-85771234",
)
HUKOU = HukouInfo(address="湖北省武汉市东湖新技术开发区集体户", unit="武汉东湖新技术开发区公安分局")
DATA = AgreementData(
    number="QS-EA-2026-000123",
    student=STUDENT,
    employer=EMPLOYER,
    terms=TERMS,
    archive=ARCHIVE,
    hukou=HUKOU,
    mode="online",
    issued_on="2026年6月1日",
)
LETTER = TerminationData(
    agreement_number=DATA.number,
    student=STUDENT,
    employer=EMPLOYER,
    applicant="employer",
    reason="因单位业务调整，该岗位取消，经双方协商一致解除就业协议。",
    applied_on="2026年7月1日",
    agreed_on="2026年7月3日",
)
# About 9,000 characters in 30 paragraphs: several pages of 其他约定.
LONG_TERMS = "\n".join(
    f"第{n}项：" + "甲方为乙方提供岗前培训及职业发展规划，Mentoring by a senior engineer. " * 9
    for n in range(1, 31)
)
HOSTILE = ") Tj (x) Tj ET BT <</S/JavaScript/JS(app.alert(1))>> \\( %%EOF endstream endobj"


def squashed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def values(obj: object) -> list[str]:
    out: list[str] = []
    for item in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, item.name)
        out += values(value) if dataclasses.is_dataclass(value) else [str(value)]
    return out


@pytest.fixture(scope="module")
def agreement() -> RenderedPdf:
    return render_agreement(DATA)


@pytest.fixture(scope="module")
def long_agreement() -> RenderedPdf:
    return render_agreement(
        dataclasses.replace(DATA, terms=dataclasses.replace(TERMS, other_terms=LONG_TERMS))
    )


@pytest.fixture(scope="module")
def letter() -> RenderedPdf:
    return render_termination_letter(LETTER)


# --- the values are real text -------------------------------------------------------------


def test_pdftotext_gives_back_every_value_of_the_agreement(agreement: RenderedPdf) -> None:
    text = squashed(pdftotext(agreement.pdf))
    for value in values(DATA):
        if value != "online":
            assert squashed(value) in text, value
    for words in (
        "全国普通高等学校毕业生就业协议书",
        "线上签约",
        "五、户口接收信息",
        "经丙方鉴证后生效",
    ):
        assert words in text
    for words in ("甲方：用人单位（盖章）", "乙方：毕业生（签名）", "丙方：学校（鉴证盖章）"):
        assert words in text


def test_a_long_other_terms_wraps_over_pages_and_comes_back_whole(
    long_agreement: RenderedPdf,
) -> None:
    assert long_agreement.page_count >= 4
    # In content order (-raw): poppler's default mode guesses columns, and may read the right
    # half of a table row above between two lines of a cell that spans pages.
    text = squashed(pdftotext(long_agreement.pdf, "-raw"))
    body = re.sub(r"协议书编号：[-A-Z0-9]+第\d+页共\d+页", "", text)  # the footers
    assert squashed(LONG_TERMS) in body.replace("其他约定（续）", "")
    assert "其他约定（续）" in text  # the row's label is repeated where it continues
    default = squashed(pdftotext(long_agreement.pdf))
    for paragraph in LONG_TERMS.splitlines():
        assert squashed(paragraph)[:40] in default
    for index in range(long_agreement.page_count):
        for left, bottom, right, top in char_boxes(long_agreement.pdf, index):
            assert 56 <= left and right <= PAGE_SIZE[0] - 56, (index, left, right)
            assert 20 <= bottom and top <= PAGE_SIZE[1] - 56, (index, bottom, top)


def test_pdftotext_gives_back_every_value_of_the_letter(letter: RenderedPdf) -> None:
    text = squashed(pdftotext(letter.pdf))
    for value in (LETTER.agreement_number, LETTER.reason, LETTER.applied_on, LETTER.agreed_on):
        assert squashed(value) in text
    for value in (STUDENT.name, STUDENT.student_no, STUDENT.school, EMPLOYER.name):
        assert squashed(value) in text
    assert "解约申请方用人单位" in text
    assert "每名毕业生仅有一次解约机会" in text


def test_offline_agreements_say_so() -> None:
    text = squashed(pdftotext(render_agreement(dataclasses.replace(DATA, mode="offline")).pdf))
    assert "签约方式：线下签约" in text
    assert "一式三份" in text


def test_the_same_data_gives_the_same_bytes(agreement: RenderedPdf) -> None:
    assert render_agreement(DATA) == agreement
    other = render_agreement(dataclasses.replace(DATA, number="QS-EA-2026-000124"))
    assert other.pdf != agreement.pdf


# --- the spots ----------------------------------------------------------------------------


def char_boxes(data: bytes, index: int) -> list[tuple[float, float, float, float]]:
    doc = pdfium.PdfDocument(data)
    try:
        textpage = doc[index].get_textpage()
        boxes = [textpage.get_charbox(i) for i in range(textpage.count_chars())]
        return [box for box in boxes if box[2] > box[0]]  # spaces have empty boxes
    finally:
        doc.close()


def overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("which", ["agreement", "long_agreement", "letter"])
def test_spots_are_on_the_last_page_apart_and_blank(
    which: str, request: pytest.FixtureRequest
) -> None:
    rendered: RenderedPdf = request.getfixturevalue(which)
    assert set(rendered.spots) == set(SPOTS)
    last = rendered.page_count - 1
    assert {page for page, _ in rendered.spots.values()} == {last}
    rects = {name: rect for name, (_, rect) in rendered.spots.items()}
    for name, (x1, y1, x2, y2) in rects.items():
        assert 0 <= x1 < x2 <= PAGE_SIZE[0] and 0 <= y1 < y2 <= PAGE_SIZE[1], name
        width, height = (
            (SEAL_SIZE, SEAL_SIZE)
            if name.endswith("_seal")
            else SIGNATURE_SIZE
            if name == "student_signature"
            else DATE_SIZE
        )
        assert x2 - x1 >= width - 0.01 and y2 - y1 >= height - 0.01, name
    assert SEAL_SIZE >= 119  # a 42 mm seal
    for (a, ra), (b, rb) in itertools.combinations(rects.items(), 2):
        assert not overlaps(ra, rb), (a, b)
    boxes = char_boxes(rendered.pdf, last)
    image = render(rendered.pdf, last)
    for name, (x1, y1, x2, y2) in rects.items():
        assert not [box for box in boxes if overlaps(box, (x1, y1, x2, y2))], name
        # One point inside the spot: the rule under a date spot is just outside it.
        top, bottom = round(PAGE_SIZE[1] - y2) + 1, round(PAGE_SIZE[1] - y1) - 1
        region = image[top:bottom, round(x1) + 1 : round(x2) - 1]
        assert region.size and region.min() >= 250, name
    # The blocks come after all text: below the spots there is only the footer.
    lowest = min(y1 for _, y1, _, _ in rects.values())
    assert all(bottom > lowest for _, bottom, _, top in boxes if top > 40)


# --- user input ---------------------------------------------------------------------------


def test_pdf_syntax_in_values_stays_text() -> None:
    data = dataclasses.replace(
        DATA,
        student=dataclasses.replace(STUDENT, name=") Tj (黄河水"),
        terms=dataclasses.replace(TERMS, other_terms=HOSTILE, position="工程师 <</Type/Page>>"),
    )
    rendered = render_agreement(data)
    text = pdftotext(rendered.pdf)
    assert squashed(HOSTILE) in squashed(text)
    assert ") Tj (黄河水" in text and "工程师 <</Type/Page>>" in text
    assert ingest_pdf(rendered.pdf).removed == ()
    assert b"JavaScript" not in rendered.pdf


def test_tabs_and_line_breaks_are_normalised() -> None:
    terms = dataclasses.replace(TERMS, other_terms="第一段\r\n第二段\r第三段", salary="面议\t月薪")
    rendered = render_agreement(dataclasses.replace(DATA, terms=terms))
    lines = [line.strip() for line in pdftotext(rendered.pdf).splitlines()]
    assert any(line.endswith("第一段") for line in lines)
    assert "第二段" in lines and "第三段" in lines
    assert any("面议 月薪" in line for line in lines)


@pytest.mark.parametrize(
    ("field", "char"),
    [
        ("terms.other_terms", "😀"),  # no glyph in Noto Sans CJK SC
        ("student.name", "\x00"),
        ("employer.name", "\x1b"),
        ("terms.position", "\u202e"),  # right-to-left override
        ("archive.address", "\u200b"),  # zero-width space
        ("hukou.unit", "\n"),  # a single-line value
        ("number", "\x7f"),
    ],
)
def test_characters_that_cannot_be_printed_are_refused(field: str, char: str) -> None:
    data = _with_value(DATA, field, f"前{char}后")
    with pytest.raises(DocumentTextError) as caught:
        render_agreement(data)
    assert caught.value.code == "employment_document_char"
    assert caught.value.field == field and caught.value.char == char
    assert caught.value.label in caught.value.message


def test_the_letter_refuses_what_cannot_be_printed() -> None:
    with pytest.raises(DocumentTextError) as caught:
        render_termination_letter(dataclasses.replace(LETTER, reason="不想去了🙃"))
    assert caught.value.field == "reason"
    assert "U+1F643" in caught.value.message


@pytest.mark.parametrize("other_terms", ["约\n" * 3000, "约" * 50_000])
def test_a_document_too_long_is_refused(other_terms: str) -> None:
    data = dataclasses.replace(DATA, terms=dataclasses.replace(TERMS, other_terms=other_terms))
    with pytest.raises(DocumentTooLongError) as caught:
        render_agreement(data)
    assert str(MAX_PAGES) in caught.value.message


def test_a_party_name_too_long_for_the_signature_block_is_refused() -> None:
    employer = dataclasses.replace(EMPLOYER, name="星光集团有限公司" * 150)
    with pytest.raises(DocumentTooLongError):
        render_termination_letter(dataclasses.replace(LETTER, employer=employer))


def _with_value(data: AgreementData, path: str, value: str) -> AgreementData:
    changes: dict[str, Any] = {path: value}
    if "." in path:
        part, attr = path.split(".")
        changes = {part: dataclasses.replace(getattr(data, part), **{attr: value})}
    return dataclasses.replace(data, **changes)


# --- an envelope document -----------------------------------------------------------------


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return helpers.make_platform()


def test_ingest_accepts_the_documents_without_removing_anything(
    agreement: RenderedPdf, letter: RenderedPdf
) -> None:
    for rendered in (agreement, letter):
        ingested = ingest_pdf(rendered.pdf)
        assert ingested.removed == () and not ingested.already_signed
        assert ingested.page_count == rendered.page_count
        assert squashed(pdftotext(ingested.data)) == squashed(pdftotext(rendered.pdf))


@pytest.mark.parametrize("which", ["long_agreement", "letter"])
def test_the_parties_sign_in_the_spots(
    which: str, request: pytest.FixtureRequest, platform: EphemeralPlatform
) -> None:
    rendered: RenderedPdf = request.getfixturevalue(which)
    names = ("employer_seal", "student_signature", "school_seal")
    fields = tuple(FieldSpec(n, rendered.spots[n][0], rendered.rect(n)) for n in names)
    data = helpers.prepare(platform, ingest_pdf(rendered.pdf).data, fields)
    data, _ = helpers.sign_seal(platform, data, field="employer_seal")
    data, _ = helpers.sign_person(platform, data, name="黄河水", field="student_signature")
    data, _ = helpers.sign_seal(platform, data, field="school_seal")
    report = verify_pdf(data, platform.trust)
    assert report.verdict == "valid", report.reason
    assert len(report.signatures) == 4  # the platform's certification and the three parties
    for sig in report.signatures:
        assert sig.intact and sig.valid and sig.trusted, sig
    doc = pdfium.PdfDocument(data)
    doc.init_forms()  # draw the signature appearances
    page = doc[rendered.page_count - 1].render(scale=1, may_draw_forms=True)
    image = np.array(page.to_pil().convert("L")).astype(int)
    doc.close()
    for name in names:
        x1, y1, x2, y2 = rendered.rect(name).as_tuple()
        region = image[round(PAGE_SIZE[1] - y2) : round(PAGE_SIZE[1] - y1), round(x1) : round(x2)]
        assert region.min() < 200, f"nothing shows in {name}"
    assert isinstance(rendered.rect("school_seal"), Rect)
