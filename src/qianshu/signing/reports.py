"""The evidence report (签署报告): a text PDF that tells an arbitrator what happened to an envelope.

The caller passes already formatted and translated strings (times in Asia/Shanghai, status labels);
this module only lays them out: summary, documents with their SHA-256, parties with certificate
details, every audit event, the audit chain's head, event count and time-stamp time, and the
verification URL (also as a QR code). Attachments (the audit chain's time-stamp token in
machine-readable form) are embedded as PDF file attachments; :func:`read_attachment` reads one
back. The output is an unsigned PDF; the platform signs it afterwards with an incremental
signature.

Fonts are embedded as subsets. fpdf2 would parse and subset the whole 65,535-glyph CJK face on
every document (~0.35 s per face); instead the face is cut down here (HarfBuzz's hb-subset) to
the characters the report uses (cached by character set), so fpdf2 only ever sees a font of a
few hundred glyphs.
"""

from __future__ import annotations

import dataclasses
import io
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pikepdf
import qrcode
import qrcode.constants
import qrcode.image.pil
from fontTools.ttLib import TTCollection, TTFont
from fpdf import FPDF
from fpdf.enums import TableCellFillMode, XPos, YPos
from fpdf.fonts import FontFace, TTFFont

from qianshu.signing import fonts
from qianshu.signing.errors import ConfigurationError, PdfError, SigningError
from qianshu.signing.isolation import Limits, run_limited


@dataclass(frozen=True)
class ReportDocument:
    """One document of the envelope, with the hashes of its uploaded and its final signed form."""

    name: str
    pages: int
    original_sha256: str
    final_sha256: str
    signatures: int


@dataclass(frozen=True)
class ReportParty:
    """One recipient (signer, organisation, approver or cc) with what it did and its certificate.
    ``order`` 0: outside the signing order (a cc)."""

    order: int
    role: str
    name: str
    identity: str
    contact: str
    status: str
    acted_at: str
    acted_by: str = ""
    seal_name: str = ""
    certificate_subject: str = ""
    certificate_serial: str = ""
    certificate_issuer: str = ""
    certificate_validity: str = ""


@dataclass(frozen=True)
class ReportEvent:
    """One audit event, already formatted for display."""

    time: str
    actor: str
    action: str
    ip: str
    detail: str = ""
    sha256_before: str = ""
    sha256_after: str = ""


@dataclass(frozen=True)
class ReportAttachment:
    """A file embedded in the report (for machines: e.g. the audit chain's time-stamp token)."""

    name: str
    data: bytes
    mime_type: str = "application/json"
    description: str = ""


@dataclass(frozen=True)
class EvidenceReport:
    """Everything the evidence report shows; every text is final (formatted and translated).

    ``audit_count`` defaults to the number of events; ``audit_timestamp`` is the time of the
    time-stamp token over the chain's head (empty: none)."""

    title: str
    number: str
    initiator: str
    status: str
    created_at: str
    completed_at: str
    generated_at: str
    platform_name: str
    verify_url: str
    audit_head: str
    documents: tuple[ReportDocument, ...]
    parties: tuple[ReportParty, ...]
    events: tuple[ReportEvent, ...]
    timezone_label: str = "北京时间 (UTC+8)"
    audit_count: int | None = None
    audit_timestamp: str = ""
    attachments: tuple[ReportAttachment, ...] = ()


_FAMILY = "report"
_INK = (31, 41, 55)
_MUTED = (100, 108, 120)
_ACCENT = (27, 54, 93)
_RULE = (200, 205, 212)
_LABEL_FILL = (242, 244, 247)
_HEAD_FILL = (228, 235, 244)
_ZEBRA = (246, 247, 249)
# A value longer than this could make a table row taller than a page, which fpdf2 refuses.
_MAX_TEXT = 1000
_MAX_SHORT = 80  # narrow columns of the event table (time, action, IP)
_MAX_URL = 1000  # comfortably inside QR code version 40
MAX_ATTACHMENT = 256 * 1024
_ATTACHMENT_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_EMPTY = "—"
_REPLACEMENT = "□"
_INVISIBLE = frozenset({"Cc", "Cf", "Mn", "Me"})  # joiners, variation selectors, stray controls
_ASCII = "".join(chr(c) for c in range(0x20, 0x7F))
_LAYOUT_TABLES = ("GSUB", "GPOS", "GDEF", "BASE", "JSTF", "MATH", "VORG", "vhea", "vmtx", "DSIG")

# Every fixed text; "|" separates the items of one group.
_HEADING = "签署报告|Evidence report".split("|")
_SUMMARY = (
    "任务名称 Title|任务编号 Number|发起方 Initiator|状态 Status|发起时间 Created"
    "|完成时间 Completed|报告生成时间 Generated|时区 Time zone|验证地址 Verify at"
).split("|")
_QR_CAPTION = "扫码验证\nScan to verify"
_SECTION_TEXT = "文件信息|Documents;签署方|Parties;操作记录|Audit trail;审计链|Audit chain"
_SECTIONS = [group.split("|") for group in _SECTION_TEXT.split(";")]
_DOCUMENT = "文件|页数 Pages|签名数量 Signatures|原始文件 Original|最终文件 Final".split("|")
_PARTY = (
    "顺序|名称 Name|状态 Status|证件号码 ID|联系方式 Contact|操作时间 Time|操作人 Acted by"
    "|印章 Seal|证书主题 Subject|证书序列号 Serial|颁发机构 Issuer|有效期 Validity"
).split("|")
_EVENT_HEAD = (
    "时间\nTime|操作人\nActor|操作\nAction|IP 地址\nIP|详情\nDetail"
    "|文件哈希 前/后\nSHA-256 before/after"
).split("|")
_EVENT_WIDTHS = (29, 27, 17, 25, 45, 35)
_EVENT_NOTE = "共 {n} 条记录，时间为{tz}。|前|后|无操作记录 No events".split("|")
_CHAIN = (
    "审计链头 Chain head (HMAC-SHA256)|事件数量 Events|时间戳 Time-stamp (TSA)"
    "|附件 {name} 含时间戳令牌，可据此核验审计链头。"
    "|Attachment {name} holds the time-stamp token over the chain head for verification."
).split("|")
_NOTE = (
    "本报告由平台签名，任何修改都会使签名失效。可在以下地址验证文件：",
    "This report is signed by the platform; any change invalidates the signature. "
    "Verify the documents at: ",
)
_FOOTER = "签署报告|第 {page} 页 / 共 {nb} 页".split("|")
_FIXED_TEXT = "".join(
    (*_HEADING, *_SUMMARY, _QR_CAPTION, _SECTION_TEXT, *_DOCUMENT, *_PARTY, *_EVENT_HEAD)
) + "".join((*_EVENT_NOTE, *_CHAIN, *_NOTE, *_FOOTER, _EMPTY, _REPLACEMENT, "…·：（）"))
_FIXED_CODEPOINTS = frozenset(map(ord, _ASCII + _FIXED_TEXT))


@dataclass(frozen=True)
class _Face:
    path: str
    index: int
    codepoints: frozenset[int]


@lru_cache(maxsize=8)
def _face(path: str) -> _Face:
    if not Path(path).is_file():
        raise ConfigurationError(
            f"report font not found: {path} (install fonts-noto-cjk or pass font_path)"
        )
    try:
        collection = path.lower().endswith((".ttc", ".otc"))
        faces = (
            list(TTCollection(path, lazy=True).fonts) if collection else [TTFont(path, lazy=True)]
        )
        try:
            families = [str(face["name"].getDebugName(1)) for face in faces]
            # Noto CJK collections hold JP, KR, SC, TC, HK faces: the report is simplified Chinese.
            index = next((i for i, name in enumerate(families) if name.endswith(" SC")), 0)
            codepoints = frozenset(faces[index].getBestCmap() or {})
        finally:
            for face in faces:
                face.close()
    except Exception as exc:  # fontTools raises many types on a damaged file
        raise ConfigurationError(f"report font {path} cannot be read: {exc}") from exc
    if not codepoints:
        raise ConfigurationError(f"report font {path} has no Unicode character map")
    return _Face(path=path, index=index, codepoints=codepoints)


@lru_cache(maxsize=16)
def _subset(face: _Face, codepoints: frozenset[int]) -> bytes:
    """A standalone OpenType font of ``face`` with the glyphs of ``codepoints`` (and .notdef),
    without layout tables. HarfBuzz's hb-subset takes ~2 ms where fontTools' subsetter took
    ~0.1-0.25 s (it parses the collection's whole CFF table every time)."""
    try:
        import uharfbuzz as hb

        source = hb.Face(hb.Blob.from_file_path(face.path), face.index)
        plan = hb.SubsetInput()
        plan.unicode_set.update(codepoints & face.codepoints)
        plan.flags = (
            hb.SubsetFlags.DESUBROUTINIZE
            | hb.SubsetFlags.NOTDEF_OUTLINE
            | hb.SubsetFlags.NO_LAYOUT_CLOSURE
        )
        dropped = plan.sets(hb.SubsetInputSets.DROP_TABLE_TAG)
        for tag in _LAYOUT_TABLES:
            dropped.add(int.from_bytes(tag.encode("latin-1"), "big"))
        subset = hb.subset(source, plan)
        data = bytes(subset.blob.data) if subset is not None else b""
    except Exception as exc:  # HarfBuzz raises several types on a damaged file
        raise ConfigurationError(f"report font {face.path} cannot be subset: {exc}") from exc
    if not data:
        raise ConfigurationError(f"report font {face.path} cannot be subset")
    return data


def _clean(text: str, codepoints: frozenset[int], limit: int = _MAX_TEXT) -> str:
    """One line of text the font can draw: glyphs it lacks become □, invisible ones go."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    chars = []
    for char in text:
        if char.isspace():
            chars.append(" ")
        elif ord(char) in codepoints:
            chars.append(char)
        elif unicodedata.category(char) not in _INVISIBLE:
            chars.append(_REPLACEMENT)
    return " ".join("".join(chars).split())


def _short_hash(value: str) -> str:
    return value[:16] + "…" if len(value) > 16 else value


def _check(obj: object, kind: type, where: str) -> None:
    if not isinstance(obj, kind):
        raise PdfError(f"{where} must be a {kind.__name__}", code="evidence_report")
    for field in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, field.name)
        expected = {"str": str, "int": int}.get(str(field.type))
        if expected is not None and (type(value) is bool or not isinstance(value, expected)):
            raise PdfError(f"{where}.{field.name} must be {field.type}", code="evidence_report")


def _validate(report: EvidenceReport) -> None:
    _check(report, EvidenceReport, "report")
    kinds = {"documents": ReportDocument, "parties": ReportParty, "events": ReportEvent}
    for name, kind in kinds.items():
        items = getattr(report, name)
        if not isinstance(items, tuple | list):
            raise PdfError(f"report.{name} must be a tuple", code="evidence_report")
        for i, item in enumerate(items):
            _check(item, kind, f"report.{name}[{i}]")
    if len(report.verify_url) > _MAX_URL:
        raise PdfError("report.verify_url is too long for a QR code", code="evidence_report")
    if report.audit_count is not None and (
        type(report.audit_count) is not int or report.audit_count < 0
    ):
        raise PdfError("report.audit_count must be a count", code="evidence_report")
    if not isinstance(report.attachments, tuple | list):
        raise PdfError("report.attachments must be a tuple", code="evidence_report")
    for i, item in enumerate(report.attachments):
        _check(item, ReportAttachment, f"report.attachments[{i}]")
        if not _ATTACHMENT_NAME.match(item.name):
            raise PdfError(
                f"report.attachments[{i}].name is not a plain file name", code="evidence_report"
            )
        if not isinstance(item.data, bytes) or len(item.data) > MAX_ATTACHMENT:
            raise PdfError(
                f"report.attachments[{i}].data must be bytes up to 256 KiB", code="evidence_report"
            )


def _qr_png(url: str) -> io.BytesIO:
    code = qrcode.QRCode(border=0, box_size=8, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    code.make(fit=True)
    image = code.make_image(image_factory=qrcode.image.pil.PilImage).get_image()
    out = io.BytesIO()
    image.convert("L").save(out, format="PNG")
    return out


_LABEL = FontFace(_FAMILY, "", size_pt=7.5, color=_MUTED, fill_color=_LABEL_FILL)
_BLOCK_HEAD = FontFace(_FAMILY, "", size_pt=8.5, color=_ACCENT, fill_color=_HEAD_FILL)
_COLUMN_HEAD = FontFace(_FAMILY, "B", size_pt=7, color=_ACCENT, fill_color=_HEAD_FILL)

Pair = tuple[str, str]
_Item = EvidenceReport | ReportDocument | ReportParty | ReportEvent


class _ReportPdf(FPDF):
    def __init__(self, report: EvidenceReport, codepoints: frozenset[int]) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report = report
        self.codepoints = codepoints
        self.set_margins(16, 16, 16)
        self.set_auto_page_break(True, margin=18)

    def t(self, text: str, limit: int = _MAX_TEXT, *, empty: str = _EMPTY) -> str:
        return _clean(text, self.codepoints, limit) or empty

    def fit(self, text: str, width: float) -> str:
        """Shorten ``text`` with … to ``width`` mm in the current font (for one-line cells)."""
        if self.get_string_width(text) <= width:
            return text
        text = text[: int(width * 2)]  # no glyph is narrower than 0.5 mm: bounds the loop
        while text and self.get_string_width(text + "…") > width:
            text = text[:-1]
        return text + "…"

    def footer(self) -> None:
        self.set_y(-13)
        self.set_draw_color(*_RULE)
        self.set_line_width(0.2)
        self.line(self.l_margin, self.y, self.w - self.r_margin, self.y)
        self.set_font(_FAMILY, "", 7)
        self.set_text_color(*_MUTED)
        half = self.epw / 2
        left = f"{self.t(self.report.platform_name)} · {_FOOTER[0]} · {self.t(self.report.number)}"
        self.cell(half, 7, self.fit(left, half - 2))
        page = _FOOTER[1].format(page=self.page_no(), nb=self.str_alias_nb_pages)
        self.cell(half, 7, page, align="R")

    def title_block(self) -> None:
        report = self.report
        self.set_font(_FAMILY, "B", 20)
        self.set_text_color(*_ACCENT)
        self.cell(90, 10, _HEADING[0])
        self.set_font(_FAMILY, "", 9)
        self.set_text_color(*_MUTED)
        self.cell(
            self.epw - 90, 10, self.fit(self.t(report.platform_name), self.epw - 90), align="R"
        )
        self.ln(9)
        self.set_font(_FAMILY, "", 10)
        self.cell(90, 6, _HEADING[1], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)
        self.set_draw_color(*_ACCENT)
        self.set_line_width(0.6)
        self.line(self.l_margin, self.y, self.w - self.r_margin, self.y)
        self.ln(4)

    def summary(self) -> None:
        report = self.report
        names = "title number initiator status created_at completed_at generated_at"
        values = [getattr(report, name) for name in f"{names} timezone_label verify_url".split()]
        top, page, qr_size = self.y, self.page, 32.0
        # The QR code first: a long summary table may run onto the next page.
        x = self.w - self.r_margin - qr_size
        self.image(_qr_png(report.verify_url), x=x, y=top, w=qr_size, h=qr_size)
        self.set_xy(x - 3, top + qr_size + 1)
        self.set_font(_FAMILY, "", 7)
        self.set_text_color(*_MUTED)
        self.multi_cell(qr_size + 6, 3.4, _QR_CAPTION, align="C")
        caption_bottom = self.y
        self.set_xy(self.l_margin, top)
        table_width = self.epw - qr_size - 6
        self.kv_table(
            [((label, value),) for label, value in zip(_SUMMARY, values, strict=True)],
            col_widths=(40, table_width - 40),
            width=table_width,
        )
        if self.page == page:
            self.set_y(max(self.y, caption_bottom))

    def section(self, index: int, extra: str = "") -> None:
        zh, en = _SECTIONS[index]
        # Keep a heading with the start of its content rather than alone at the foot of a page.
        if self.will_page_break(40):
            self.add_page()
        self.ln(5)
        y = self.y
        # A local context, so that the fill colour does not leak into the tables' cells.
        with self.local_context(fill_color=_ACCENT):
            self.rect(self.l_margin, y + 1, 1.2, 5, style="F")
        self.set_xy(self.l_margin + 3, y)
        self.set_font(_FAMILY, "B", 12)
        self.set_text_color(*_ACCENT)
        self.cell(None, 7, zh)
        self.set_font(_FAMILY, "", 8)
        self.set_text_color(*_MUTED)
        self.cell(None, 7, "  " + en + ("   " + extra if extra else ""))
        self.set_xy(self.l_margin, y + 9)

    def table_pen(self, size: float) -> None:
        self.set_draw_color(*_RULE)
        self.set_line_width(0.2)
        self.set_font(_FAMILY, "", size)
        self.set_text_color(*_INK)

    def kv_table(
        self,
        rows: Sequence[Sequence[Pair]],
        *,
        heading: str | None = None,
        col_widths: Sequence[float] = (28, 61, 28, 61),
        width: float | None = None,
    ) -> None:
        """Label/value rows; a row with a single pair spans the whole width."""
        self.table_pen(8)
        columns = len(col_widths)
        with self.table(
            col_widths=tuple(col_widths),
            width=width,
            align="LEFT",
            text_align="LEFT",
            v_align="TOP",
            line_height=4.2,
            padding=(1.3, 1.6),
            first_row_as_headings=heading is not None,
            headings_style=_BLOCK_HEAD,
        ) as table:
            if heading is not None:
                table.row().cell(heading, colspan=columns)
            for pairs in rows:
                row = table.row()
                for label, value in pairs:
                    row.cell(label, style=_LABEL)
                    row.cell(self.t(value), colspan=columns - 1 if len(pairs) == 1 else 1)

    def documents(self) -> None:
        self.section(0)
        for i, doc in enumerate(self.report.documents, start=1):
            if self.will_page_break(30):
                self.add_page()
            label, pages, signatures, original, final = _DOCUMENT
            self.kv_table(
                [
                    ((pages, str(doc.pages)), (signatures, str(doc.signatures))),
                    ((f"{original} SHA-256", doc.original_sha256),),
                    ((f"{final} SHA-256", doc.final_sha256),),
                ],
                heading=f"{label} {i} · {self.t(doc.name, 400)}",
            )
            self.ln(3)

    def parties(self) -> None:
        self.section(1)
        for party in self.report.parties:
            order, name, status, ident, contact, at, by, seal, subj, serial, issuer, valid = _PARTY
            grid: list[tuple[Pair, ...]] = [
                ((name, party.name), (status, party.status)),
                ((ident, party.identity), (contact, party.contact)),
                ((at, party.acted_at), (by, party.acted_by)),
            ]
            if party.seal_name:
                grid.append(((seal, party.seal_name),))
            certificate = (
                party.certificate_subject,
                party.certificate_serial,
                party.certificate_issuer,
                party.certificate_validity,
            )
            labels = (subj, serial, issuer, valid)
            grid.extend((pair,) for pair in zip(labels, certificate, strict=True) if pair[1])
            if self.will_page_break(40):
                self.add_page()
            # Short enough that the heading, repeated on a new page, leaves room for a row.
            role, who = self.t(party.role, _MAX_SHORT), self.t(party.name, 200)
            # Order 0: a party outside the order (a CC).
            place = f"{order} {party.order} · " if party.order else ""
            self.kv_table(grid, heading=f"{place}{role} · {who}")
            self.ln(3)

    def events(self) -> None:
        report = self.report
        tz = self.t(report.timezone_label, 40)
        self.section(2, _EVENT_NOTE[0].format(n=len(report.events), tz=tz))
        if not report.events:
            self.set_font(_FAMILY, "", 8)
            self.cell(0, 6, _EVENT_NOTE[3], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            return
        self.table_pen(7)
        with self.table(
            col_widths=_EVENT_WIDTHS,
            align="LEFT",
            text_align="LEFT",
            v_align="TOP",
            line_height=3.5,
            padding=(1.2, 1.3),
            headings_style=_COLUMN_HEAD,
            cell_fill_mode=TableCellFillMode.EVEN_ROWS,
            cell_fill_color=_ZEBRA,
            repeat_headings=1,
        ) as table:
            table.row(_EVENT_HEAD)
            for event in report.events:
                values = (event.sha256_before, event.sha256_after)
                hashes = [
                    f"{mark} {_short_hash(self.t(value, 80))}"
                    for mark, value in zip(_EVENT_NOTE[1:3], values, strict=True)
                    if value
                ]
                table.row(
                    (
                        self.t(event.time, _MAX_SHORT),
                        self.t(event.actor, 200),
                        self.t(event.action, _MAX_SHORT),
                        self.t(event.ip, _MAX_SHORT),
                        self.t(event.detail, empty=""),
                        "\n".join(hashes),
                    )
                )

    def chain(self) -> None:
        report = self.report
        self.section(3)
        count = len(report.events) if report.audit_count is None else report.audit_count
        rows: list[tuple[Pair, ...]] = [
            ((_CHAIN[0], report.audit_head),),
            ((_CHAIN[1], str(count)),),
        ]
        if report.audit_timestamp:
            rows.append(((_CHAIN[2], report.audit_timestamp),))
        self.kv_table(rows, col_widths=(40, 138))
        for attachment in report.attachments:
            self.ln(2)
            self.set_font(_FAMILY, "", 7.5)
            self.set_text_color(*_MUTED)
            for line in _CHAIN[3:5]:
                self.multi_cell(
                    0, 4, line.format(name=attachment.name), new_x=XPos.LMARGIN, new_y=YPos.NEXT
                )
        self.ln(4)
        url = self.t(report.verify_url)
        self.set_font(_FAMILY, "", 8.5)
        self.set_text_color(*_INK)
        self.multi_cell(0, 5, _NOTE[0] + url, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(_FAMILY, "", 7.5)
        self.set_text_color(*_MUTED)
        self.multi_cell(0, 4, _NOTE[1] + url, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _report_text(report: EvidenceReport) -> Iterable[str]:
    objects: list[_Item] = [report, *report.documents, *report.parties, *report.events]
    for obj in objects:
        for field in dataclasses.fields(obj):
            value = getattr(obj, field.name)
            if field.name != "attachments":
                yield value if isinstance(value, str) else str(value)
    yield from (a.name for a in report.attachments)


def render_evidence_report(
    report: EvidenceReport,
    *,
    font_path: str = fonts.SANS_REGULAR,
    bold_font_path: str | None = fonts.SANS_BOLD,
) -> bytes:
    """Render the evidence report (签署报告) of an envelope as an unsigned A4 PDF.

    Fonts are TTF/OTF files or TTC/OTC collections (the first face whose family ends in " SC" is
    used); they are embedded as subsets. ``bold_font_path=None`` draws headings with the regular
    face. Characters the font lacks are drawn as □; overlong values are cut at 1,000 characters.
    The output opens with pyHanko's strict reader, ready to be signed by the platform.

    Raises :class:`ConfigurationError` for a missing or unreadable font and :class:`PdfError`
    (code ``evidence_report``) for malformed input or a report that cannot be laid out.
    """
    _validate(report)
    regular = _face(str(font_path))
    bold = _face(str(bold_font_path)) if bold_font_path else regular
    used = frozenset(ord(c) for text in _report_text(report) for c in text)
    regular_font = _subset(regular, _FIXED_CODEPOINTS | (used & regular.codepoints))
    # The bold face only draws fixed labels, so its subset is made once per process.
    bold_font = _subset(bold, _FIXED_CODEPOINTS)
    pdf = _ReportPdf(report, regular.codepoints)
    try:
        with tempfile.TemporaryDirectory(prefix="qianshu-report-") as tmp:
            for style, data in (("", regular_font), ("B", bold_font)):
                path = Path(tmp) / f"face{style}.otf"
                path.write_bytes(data)
                pdf.add_font(_FAMILY, style, str(path))
            for font in pdf.fonts.values():
                if isinstance(font, TTFFont):
                    # The bounding boxes are those of the whole face, a valid superset; redoing
                    # them means drawing every glyph again (~60 ms per document).
                    font.ttfont.recalcBBoxes = False
            pdf.set_title(_clean(f"{_HEADING[0]} {report.title}", regular.codepoints))
            pdf.set_author(_clean(report.platform_name, regular.codepoints))
            pdf.set_creator("Qianshu")
            pdf.set_lang("zh-CN")
            for attachment in report.attachments:
                pdf.embed_file(
                    bytes=attachment.data,
                    basename=attachment.name,
                    mime_type=attachment.mime_type,
                    desc=attachment.description,
                    compress=True,
                )
            pdf.add_page()
            pdf.title_block()
            pdf.summary()
            pdf.documents()
            pdf.parties()
            pdf.events()
            pdf.chain()
            data = bytes(pdf.output())
    except SigningError:
        raise
    except Exception as exc:  # fpdf2 raises FPDFException, ValueError, ... on layouts it refuses
        raise PdfError(f"cannot render the evidence report: {exc}", code="evidence_report") from exc
    finally:
        # fpdf2 reads fonts lazily and keeps the files open.
        for font in pdf.fonts.values():
            if isinstance(font, TTFFont):
                font.ttfont.close()
    return data


def _attachment(data: bytes, name: str) -> bytes | None:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        spec = pdf.attachments.get(name)
        if spec is None:
            return None
        content = spec.get_file()
        if int(content.size) > MAX_ATTACHMENT:
            raise PdfError("the attachment is too large", code="evidence_report")
        return bytes(content.read_bytes())


def read_attachment(data: bytes, name: str, *, isolated: bool = True) -> bytes | None:
    """The bytes of the file attachment ``name`` of a PDF (None: there is none). Read in a
    limited child process unless ``isolated`` is False (for the platform's own stored files).
    Raises :class:`PdfError` when the file cannot be read."""
    try:
        if not isolated:
            return _attachment(data, name)
        return run_limited(_attachment, data, name, limits=Limits(cpu_seconds=10, wall_seconds=30))
    except PdfError:
        raise
    except Exception as exc:  # pikepdf and the child process raise many types on damaged files
        raise PdfError(
            f"cannot read the report's attachment: {exc}", code="evidence_report"
        ) from exc
