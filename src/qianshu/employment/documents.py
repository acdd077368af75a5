"""The PDFs of the employment agreement (就业协议书, 三方协议) and its termination letter (解约函).

:func:`render_agreement` writes the 全国普通高等学校毕业生就业协议书 between the employer (甲方
用人单位), the graduate (乙方 毕业生) and the school (丙方 学校) from an :class:`AgreementData`;
:func:`render_termination_letter` writes the 解约函 from a :class:`TerminationData`. Both return a
:class:`RenderedPdf`: the bytes and the *spots*, where the parties' signature fields go.

Document
--------
A4 portrait, 20 mm margins. The title is centred, then the number, the signing mode (线上签约 /
线下签约) and the date; then labelled tables (学生信息, 用人单位信息, 签约信息, 档案接收信息,
户口接收信息 for the agreement; 解约信息 for the letter) — two short values side by side when
both fit on one line, else one value per row; then the numbered clauses; then the signature
blocks of the three parties side by side (甲方：用人单位（盖章）, 乙方：毕业生（签名）,
丙方：学校（鉴证盖章）) with the party's name. Every page has a footer 第 i 页 共 n 页.

Long values wrap inside their cell with the rules of :func:`qianshu.signing.filltext.measure`
(breaks between CJK characters and at spaces, never before closing punctuation); a row taller
than the rest of a page continues on the next one (its label marked （续）); clauses flow line by
line. The signature blocks are never split: when they do not fit under the text they go on a
new page, so the spots are always on the last page, below all text. At most :data:`MAX_PAGES`.

Spots
-----
``RenderedPdf.spots[name] = (page index, (x1, y1, x2, y2))`` in PDF points, origin bottom-left,
for ``employer_seal`` and ``school_seal`` (:data:`SEAL_SIZE` square: a 42 mm seal fits),
``student_signature`` (:data:`SIGNATURE_SIZE`) and ``employer_date``, ``student_date``,
``school_date`` (:data:`DATE_SIZE`, right of a printed 日期：, for a signing-date stamp). Spots
are blank (nothing is drawn in them), inside the page, and do not overlap each other or any
text. A date spot has a thin line just under it; nothing else is near.

Text
----
All text is real text in ONE embedded subset of Noto Sans CJK SC
(:mod:`qianshu.signing.cjkfont`: CID-keyed, Identity-H, /ToUnicode), so ``pdftotext``, search
and copy and paste give back the values. Strings are written as glyph ids in hex, so a value such
as ``) Tj (x`` is only text. Values are user input and are checked first, each by its own rule:

* ``\\r\\n`` and ``\\r`` become ``\\n``, a tab becomes a space, leading and trailing whitespace go;
* a line break is allowed only in the multi-line values (其他约定, 解约原因): a new paragraph;
* any other control or format character (U+0000–U+001F, U+007F–U+009F, U+200B, U+202E, U+FEFF …)
  and any character the font has no glyph for (most emoji, rare CJK extension ideographs) is
  refused — never dropped or drawn as an empty box, because what the parties sign must be what
  was entered: :class:`DocumentTextError` (code ``employment_document_char``) names the field
  (``field`` is the attribute path, e.g. ``terms.other_terms``; ``label`` its Chinese label;
  ``char`` the character) and says which character to remove;
* a document longer than :data:`MAX_PAGES` pages is refused with :class:`DocumentTooLongError`
  (``employment_document_too_long``).

Deterministic: the same data gives the same bytes (no dates or random ids are added; the file
/ID is derived from the content). The PDF has no form fields or actions, so
:func:`qianshu.signing.ingest.ingest_pdf` accepts it as it is and it can be an envelope document
with signature fields declared at the spots.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from dataclasses import dataclass
from typing import Literal

from django.utils.translation import gettext as _

from qianshu.core.errors import UserError
from qianshu.employment import pdflayout
from qianshu.employment.pdflayout import (
    DATE_SIZE,
    PAGE_SIZE,
    SEAL_SIZE,
    SIGNATURE_SIZE,
    Canvas,
    PageLimitError,
    Party,
    Spot,
)
from qianshu.signing import cjkfont
from qianshu.signing.stamps import Rect

__all__ = [
    "DATE_SIZE",
    "MAX_PAGES",
    "PAGE_SIZE",
    "SEAL_SIZE",
    "SIGNATURE_SIZE",
    "SPOTS",
    "AgreementData",
    "ArchiveInfo",
    "DocumentTextError",
    "DocumentTooLongError",
    "EmployerInfo",
    "HukouInfo",
    "RenderedPdf",
    "StudentInfo",
    "TerminationData",
    "Terms",
    "render_agreement",
    "render_termination_letter",
]

Mode = Literal["online", "offline"]
Applicant = Literal["student", "employer"]

MAX_PAGES = 20
#: The spots of both documents, in the order of the parties (甲方, 乙方, 丙方).
SPOTS = (
    "employer_seal",
    "student_signature",
    "school_seal",
    "employer_date",
    "student_date",
    "school_date",
)
# A cheap bound before any layout: 20 pages never hold more.
_MAX_CHARS = 40_000
_CLAUSE_SIZE = 10.5
_MODE_NAMES = {"online": "线上签约", "offline": "线下签约"}
_APPLICANT_NAMES = {"student": "毕业生", "employer": "用人单位"}


# --- data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudentInfo:
    """学生信息. ``year`` is the graduation year as shown (e.g. ``2026届``)."""

    name: str
    student_no: str
    id_number_masked: str
    school: str
    college: str
    major: str
    class_name: str
    year: str
    phone: str


@dataclass(frozen=True)
class EmployerInfo:
    """用人单位信息: 单位性质, 单位行业 and 单位所在地 may be empty until the school fills
    them in."""

    name: str
    credit_code: str
    nature: str = ""
    industry: str = ""
    location: str = ""
    address: str = ""
    contact: str = ""
    contact_phone: str = ""


@dataclass(frozen=True)
class Terms:
    """签约信息; ``other_terms`` (其他约定) may have several paragraphs (``\\n``)."""

    position: str
    contract_term: str
    salary: str
    work_place: str
    probation: str
    other_terms: str = ""


@dataclass(frozen=True)
class ArchiveInfo:
    """档案接收信息."""

    unit: str = ""
    address: str = ""
    postcode: str = ""
    contact: str = ""
    phone: str = ""


@dataclass(frozen=True)
class HukouInfo:
    """户口接收信息."""

    address: str = ""
    unit: str = ""


@dataclass(frozen=True)
class AgreementData:
    """One agreement to print; ``issued_on`` is the date printed under the title (as given)."""

    number: str
    student: StudentInfo
    employer: EmployerInfo
    terms: Terms
    archive: ArchiveInfo
    hukou: HukouInfo
    mode: Mode = "online"
    issued_on: str = ""

    def __post_init__(self) -> None:
        if self.mode not in _MODE_NAMES:
            raise ValueError(f"unknown signing mode {self.mode!r}")


@dataclass(frozen=True)
class TerminationData:
    """One termination letter: who applied (``applicant``), why, and the dates as shown."""

    agreement_number: str
    student: StudentInfo
    employer: EmployerInfo
    applicant: Applicant
    reason: str
    applied_on: str
    agreed_on: str = ""
    mode: Mode = "online"

    def __post_init__(self) -> None:
        if self.applicant not in _APPLICANT_NAMES:
            raise ValueError(f"unknown applicant {self.applicant!r}")
        if self.mode not in _MODE_NAMES:
            raise ValueError(f"unknown signing mode {self.mode!r}")


@dataclass(frozen=True)
class RenderedPdf:
    """The PDF and, by name, the page index and rectangle of each spot (see the docstring)."""

    pdf: bytes
    spots: dict[str, Spot]
    page_count: int

    def rect(self, name: str) -> Rect:
        return Rect(*self.spots[name][1])


class DocumentTextError(UserError):
    """A value has a character that cannot be printed (see the module docstring)."""

    code = "employment_document_char"

    def __init__(self, message: str, *, field: str, label: str, char: str) -> None:
        super().__init__(message, field=field)
        self.label = label
        self.char = char


class DocumentTooLongError(UserError):
    code = "employment_document_too_long"


# --- values -----------------------------------------------------------------------------------


#: (attribute, label, wide) of each table, in order: ``wide`` values always take a whole row.
_STUDENT = (
    ("name", "姓名", False),
    ("student_no", "学号", False),
    ("id_number_masked", "身份证号", False),
    ("phone", "联系电话", False),
    ("school", "毕业学校", True),
    ("college", "所在院系", True),
    ("major", "所学专业", False),
    ("class_name", "所在班级", False),
    ("year", "毕业届别", False),
)
_EMPLOYER = (
    ("name", "单位名称", True),
    ("credit_code", "统一社会信用代码", False),
    ("nature", "单位性质", False),
    ("industry", "单位行业", False),
    ("location", "单位所在地", False),
    ("address", "单位地址", True),
    ("contact", "联系人", False),
    ("contact_phone", "联系电话", False),
)
_TERMS = (
    ("position", "拟聘职位", False),
    ("contract_term", "合同期限", False),
    ("salary", "薪酬", False),
    ("probation", "试用期", False),
    ("work_place", "工作地点", True),
    ("other_terms", "其他约定", True),
)
_ARCHIVE = (
    ("unit", "档案接收单位", True),
    ("address", "档案接收地址", True),
    ("postcode", "邮政编码", False),
    ("contact", "联系人", False),
    ("phone", "联系电话", False),
)
_HUKOU = (
    ("address", "户口迁移地址", True),
    ("unit", "户口接收单位", True),
)
_MULTILINE = frozenset({"terms.other_terms", "reason"})


def _clean(value: str, *, key: str, label: str) -> str:
    """``value`` normalised and checked (module docstring, "Text")."""
    text = value.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ").strip()
    widths = cjkfont.advance_widths()
    for ch in text:
        if ch == "\n" and key in _MULTILINE:
            continue
        if ch == "\n":
            message = _("“%(name)s”只能填写一行。") % {"name": label}
        elif ch in widths and unicodedata.category(ch) not in ("Cc", "Cf"):
            continue
        else:
            message = _("“%(label)s”含有无法打印的字符（U+%(code)04X），请删除或替换后重试。") % {
                "label": label,
                "code": ord(ch),
            }
        raise DocumentTextError(message, field=key, label=label, char=ch)
    return text


def _items(
    obj: object, prefix: str, spec: tuple[tuple[str, str, bool], ...]
) -> list[tuple[str, str, bool]]:
    """The (label, checked value, wide) items of one table of ``obj``."""
    return [
        (label, _clean(getattr(obj, attr), key=f"{prefix}.{attr}", label=label), wide)
        for attr, label, wide in spec
    ]


def _check_length(data: object) -> None:
    """A cheap refusal of absurd input, before any checking or layout."""
    if _length(data) > _MAX_CHARS:
        raise DocumentTooLongError(_too_long_message())


def _length(obj: object) -> int:
    if isinstance(obj, str):
        return len(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sum(_length(getattr(obj, f.name)) for f in dataclasses.fields(obj))
    return 0


def _too_long_message() -> str:
    return _("内容过长，超过 %(pages)d 页，请精简后重试。") % {"pages": MAX_PAGES}


# --- the documents ----------------------------------------------------------------------------

_AGREEMENT_TITLE = "全国普通高等学校毕业生就业协议书"
_PREAMBLE = (
    "甲方（用人单位）、乙方（毕业生）、丙方（学校）根据国家关于高校毕业生就业的法律法规和"
    "政策，遵循平等自愿、诚实信用的原则，经协商一致，就乙方毕业后到甲方就业事宜签订本协议。"
)
_CLAUSES = (
    "甲方应如实介绍本单位的情况及拟聘职位、工作条件、薪酬待遇等，按本协议接收乙方，"
    "并在乙方报到后依法与乙方订立劳动合同（聘用合同）；劳动合同的期限、薪酬等条件不得低于本协议的约定。",
    "乙方应如实向甲方介绍本人的学业、健康等情况，按期毕业，并在规定时间内到甲方报到。"
    "乙方未能按期取得毕业资格的，甲方可以解除本协议。",
    "丙方对本协议进行鉴证，如实向甲方介绍乙方的在校情况，并按国家有关规定为乙方办理就业手续"
    "及档案、户口的转递手续。",
    "本协议经甲方盖章、乙方签名并经丙方鉴证后生效。乙方到甲方报到并与甲方订立劳动合同"
    "（聘用合同）后，本协议自行终止。",
    "本协议生效后，任何一方不得擅自解除。一方要求解除的，须经另一方同意并经丙方鉴证后方可解除；"
    "擅自解除或者违反本协议的，应当承担违约责任，赔偿对方因此遭受的损失。",
    "每名毕业生的就业协议书仅可解约一次，请谨慎签约；解约经丙方鉴证后，乙方方可重新签约。",
    "“其他约定”为甲乙双方的补充约定，与本协议具有同等效力，但不得违反国家法律法规，"
    "不得免除一方的法定责任或者排除对方的主要权利。",
)
_LAST_CLAUSE = {
    "online": "本协议以电子签名方式签署，可靠的电子签名与手写签名或者盖章具有同等的法律效力。"
    "三方共用同一份电子协议书，各方均可下载留存。",
    "offline": "本协议以纸质方式签署，一式三份，甲、乙、丙三方各执一份，具有同等法律效力。"
    "乙方应将经甲方盖章、乙方签名的协议书扫描件或照片上传，由丙方鉴证。",
}
_NUMERALS = "一二三四五六七八九十"


def render_agreement(data: AgreementData) -> RenderedPdf:
    """The 就业协议书 of ``data`` (see the module docstring). Raises
    :class:`DocumentTextError` for a value with a character that cannot be printed and
    :class:`DocumentTooLongError` when it would be longer than :data:`MAX_PAGES` pages."""
    _check_length(data)
    number = _clean(data.number, key="number", label="协议书编号")
    issued_on = _clean(data.issued_on, key="issued_on", label="生成日期")
    tables = [
        ("一、学生信息", _items(data.student, "student", _STUDENT)),
        ("二、用人单位信息", _items(data.employer, "employer", _EMPLOYER)),
        ("三、签约信息", _items(data.terms, "terms", _TERMS)),
        ("四、档案接收信息", _items(data.archive, "archive", _ARCHIVE)),
        ("五、户口接收信息", _items(data.hukou, "hukou", _HUKOU)),
    ]
    meta = f"协议书编号：{number}　　签约方式：{_MODE_NAMES[data.mode]}"
    if issued_on:
        meta += f"　　生成日期：{issued_on}"
    parties = _parties(data.student, data.employer)
    try:
        canvas = Canvas(max_pages=MAX_PAGES)
        canvas.lines(_AGREEMENT_TITLE, 18, centred=True, gap=4)
        canvas.lines(meta, 9.5, centred=True, gap=6)
        canvas.lines(_PREAMBLE, _CLAUSE_SIZE, gap=4)
        for heading, items in tables:
            pdflayout.table(canvas, heading, pdflayout.rows(items))
        canvas.lines("六、协议条款", 12, gap=2)
        for n, clause in enumerate((*_CLAUSES, _LAST_CLAUSE[data.mode])):
            canvas.lines(f"{n + 1}. {clause}", _CLAUSE_SIZE, gap=2)
        spots = pdflayout.signature_blocks(canvas, parties)
    except PageLimitError:
        raise DocumentTooLongError(_too_long_message()) from None
    pdf = pdflayout.write_pdf(canvas, title=_AGREEMENT_TITLE, footer=f"协议书编号：{number}")
    return RenderedPdf(pdf=pdf, spots=spots, page_count=len(canvas.pages))


def _parties(student: StudentInfo, employer: EmployerInfo) -> tuple[Party, ...]:
    employer_name = _clean(employer.name, key="employer.name", label="单位名称")
    student_name = _clean(student.name, key="student.name", label="姓名")
    school = _clean(student.school, key="student.school", label="毕业学校")
    return (
        Party("甲方：用人单位（盖章）", employer_name, "employer_seal", "employer_date"),
        Party("乙方：毕业生（签名）", student_name, "student_signature", "student_date"),
        Party("丙方：学校（鉴证盖章）", school, "school_seal", "school_date"),
    )


_LETTER_TITLE = "解约函"
_LETTER_CLAUSES = (
    "甲方（用人单位）与乙方（毕业生）签订、并经丙方（学校）鉴证的上述《全国普通高等学校毕业生"
    "就业协议书》，经一方申请、另一方同意，甲乙双方协商一致解除。",
    "本解约函经甲方盖章、乙方签名并经丙方鉴证后生效，原就业协议书自本解约函生效之日起解除；"
    "解约生效后，乙方可以重新签约。",
    "解约所涉违约责任，由甲乙双方按原就业协议书的约定或者协商处理。每名毕业生仅有一次解约机会，"
    "乙方的解约机会已经使用。",
)


def render_termination_letter(data: TerminationData) -> RenderedPdf:
    """The 解约函 of ``data``: the agreement, the parties, who applied and why, the dates, the
    statement of termination and the three signature blocks (spots as for the agreement).
    Raises like :func:`render_agreement`."""
    _check_length(data)
    student, employer = data.student, data.employer
    number = _clean(data.agreement_number, key="agreement_number", label="原协议书编号")
    items = [
        *_items(student, "student", _STUDENT[:2] + _STUDENT[4:7]),
        *_items(employer, "employer", _EMPLOYER[:2]),
        ("解约申请方", _APPLICANT_NAMES[data.applicant], False),
        ("申请日期", _clean(data.applied_on, key="applied_on", label="申请日期"), False),
        ("对方同意日期", _clean(data.agreed_on, key="agreed_on", label="对方同意日期"), False),
        ("签约方式", _MODE_NAMES[data.mode], False),
        ("解约原因", _clean(data.reason, key="reason", label="解约原因"), True),
    ]
    parties = _parties(student, employer)
    try:
        canvas = Canvas(max_pages=MAX_PAGES)
        canvas.lines(_LETTER_TITLE, 18, centred=True)
        canvas.lines("（全国普通高等学校毕业生就业协议书）", 11, centred=True, gap=2)
        canvas.lines(f"原协议书编号：{number}", 9.5, centred=True, gap=6)
        pdflayout.table(canvas, "解约信息", pdflayout.rows(items))
        for n, clause in enumerate(_LETTER_CLAUSES):
            canvas.lines(f"{_NUMERALS[n]}、{clause}", _CLAUSE_SIZE, gap=2)
        spots = pdflayout.signature_blocks(canvas, parties)
    except PageLimitError:
        raise DocumentTooLongError(_too_long_message()) from None
    pdf = pdflayout.write_pdf(canvas, title=_LETTER_TITLE, footer=f"原协议书编号：{number}")
    return RenderedPdf(pdf=pdf, spots=spots, page_count=len(canvas.pages))
