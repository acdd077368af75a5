"""Builders of realistic and hostile PDF documents for tests and benchmarks.

:func:`make_test_pdf` writes a contract-like document (采购合同) with real, extractable text: the
Chinese text uses a subset of Noto Sans CJK SC embedded as a CID-keyed CFF font (Identity-H, with a
ToUnicode map), the header and footer use Helvetica. The last page ends with the signature block of
both parties (甲方 left, 乙方 right) in its lower part (see :data:`SIGNATURE_BLOCK_HEIGHT`).

The other builders make hostile inputs for the ingest tests: active content, form fields,
attachments, encryption and a Flate decompression bomb. :func:`make_signed_pdf` signs a document
with a throw-away self-signed key.

Every builder is deterministic (same arguments, same bytes), except :func:`make_encrypted_pdf` and
:func:`make_signed_pdf`, whose encryption salt, key and signature are random by nature.
"""

from __future__ import annotations

import functools
import hashlib
import io
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pikepdf

from qianshu.signing import fonts
from qianshu.signing.errors import ConfigurationError

CJK_FONT_PATH = Path(fonts.SANS_REGULAR)
A4_PORTRAIT = (595.28, 841.89)
A4_LANDSCAPE = (841.89, 595.28)
MARGIN = 72.0
#: Height in points of the signature block at the bottom of the last page (above the footer).
SIGNATURE_BLOCK_HEIGHT = 150.0
GIB = 1 << 30

_BODY_SIZE = 11.0
_LINE_GAP = 1.6
_PARTY_A = "北京千书科技有限公司"
_PARTY_B = "上海示例贸易有限公司"
# One paragraph per line: the preamble, then the clauses as "heading：text".
_PREAMBLE = f"""\
合同编号：QS-2025-0001
甲方（采购方）：{_PARTY_A}
乙方（供应方）：{_PARTY_B}
根据《中华人民共和国民法典》及相关法律法规的规定，甲乙双方在平等、自愿、公平、诚实信用的基础上，就甲方向乙方采购货物事宜，经友好协商，达成如下协议，以资共同遵守。
""".splitlines()
_CLAUSES = [
    tuple(line.split("：", 1))
    for line in """\
货物名称、数量及价格：乙方向甲方提供办公设备一批，具体名称、规格、数量及单价详见附件一，合同总价款为人民币壹拾贰万叁仟肆佰伍拾陆元整（¥123,456.00），含税及运输费用。
质量标准：乙方保证所供货物为全新、未使用过的合格产品，符合国家标准及行业标准，并提供生产厂家的质量合格证明及保修凭证。
交货时间、地点及方式：乙方应于本合同生效之日起三十日内，将货物送达甲方指定地点，运输及装卸费用由乙方承担，货物毁损、灭失的风险自交付时起转移。
付款方式：甲方在货物验收合格并收到乙方开具的合法有效发票后十五个工作日内，以银行转账方式向乙方支付全部合同价款。
验收：甲方应在收到货物之日起七日内进行验收，如发现货物的品种、型号、规格或质量不符合约定，应书面通知乙方，乙方应在接到通知后五日内更换或补足。
违约责任：任何一方违反本合同约定的，应向守约方支付合同总价款百分之五的违约金；违约金不足以弥补损失的，违约方还应赔偿守约方因此遭受的全部损失。
保密条款：双方对在履行本合同过程中知悉的对方商业秘密负有保密义务，未经对方书面同意，不得向任何第三方披露，本条款在合同终止后继续有效。
不可抗力：因地震、洪水、战争等不可抗力致使合同不能履行的，受影响一方应及时通知对方，并在十五日内提供有关证明，双方可协商变更或解除合同。
争议解决：因本合同引起的或与本合同有关的任何争议，双方应友好协商解决；协商不成的，任何一方均可向甲方所在地有管辖权的人民法院提起诉讼。
其他：本合同以电子签名方式签署，自双方签署之日起生效。依法可靠的电子签名与手写签名或者盖章具有同等的法律效力。本合同一式两份，双方各执一份，具有同等法律效力。
""".splitlines()
]
_SIGNATURE_LINES = (
    ("甲方（盖章）：", _PARTY_A, "法定代表人或授权代表（签字）：", "日期：      年    月    日"),
    ("乙方（盖章）：", _PARTY_B, "法定代表人或授权代表（签字）：", "日期：      年    月    日"),
)
_LATIN_SIGNATURE_LINES = (
    ("Party A (seal):", "Beijing Qianshu Technology Co., Ltd.", "Signature:", "Date:"),
    ("Party B (seal):", "Shanghai Example Trading Co., Ltd.", "Signature:", "Date:"),
)
_NO_LINE_START = "，。、；：）》！？ "
_NUMERALS = "零一二三四五六七八九"
_EXTRA_CHARS = _NUMERALS + "十百第条页共 " + "0123456789"


@dataclass(frozen=True)
class _CjkFont:
    """A subset of the Noto Sans CJK SC face, ready to embed."""

    cff: bytes
    base_font: str
    cids: dict[str, int]
    widths: dict[int, int]

    def encode(self, text: str) -> bytes:
        """The text as a hex string operand of glyph ids (CIDs) for an Identity-H font."""
        return b"<" + "".join(f"{self.cids.get(ch, 0):04X}" for ch in text).encode() + b">"

    def width(self, text: str, size: float) -> float:
        return sum(self.widths.get(self.cids.get(ch, 0), 1000) for ch in text) * size / 1000


def _find_sc_face(path: Path) -> int:
    from fontTools.ttLib import TTFont

    for index in range(16):
        face = TTFont(str(path), fontNumber=index, lazy=True)
        name = str(face["name"].getDebugName(4) or "")
        face.close()
        if "CJK SC" in name and "Mono" not in name:
            return index
    raise ConfigurationError(f"no Noto Sans CJK SC face found in {path}")


@functools.lru_cache(maxsize=8)
def _subset_cjk_font(chars: str, path: Path = CJK_FONT_PATH) -> _CjkFont:
    # Memoised: subsetting the 20 MB collection takes ~0.3 s and tests build many documents.
    try:
        from fontTools import subset
        from fontTools.ttLib import TTFont

        face = TTFont(str(path), fontNumber=_find_sc_face(path))
        options = subset.Options()
        options.desubroutinize = True
        options.layout_features = []
        options.notdef_outline = True
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=chars)
        subsetter.subset(face)
        buffer = io.BytesIO()
        face.save(buffer)
        cff = TTFont(io.BytesIO(buffer.getvalue())).reader["CFF "]
        cmap = face.getBestCmap()
        cids = {chr(code): _cid(glyph) for code, glyph in cmap.items()}
        widths = {_cid(glyph): face["hmtx"][glyph][0] for glyph in face.getGlyphOrder()}
    except ConfigurationError:
        raise
    except Exception as exc:  # fontTools raises many types; the font is a configuration matter
        raise ConfigurationError(f"cannot load the CJK font {path}: {exc}") from exc
    tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(chars.encode()).digest()[:6])
    return _CjkFont(
        cff=bytes(cff), base_font=f"{tag}+NotoSansCJKsc-Regular", cids=cids, widths=widths
    )


def _cid(glyph_name: str) -> int:
    return 0 if glyph_name == ".notdef" else int(glyph_name.removeprefix("cid"))


def _to_unicode_cmap(font: _CjkFont) -> bytes:
    pairs = sorted((cid, ch) for ch, cid in font.cids.items() if cid)
    lines = [
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
        "1 begincodespacerange <0000> <FFFF> endcodespacerange",
    ]
    for start in range(0, len(pairs), 100):
        chunk = pairs[start : start + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines += [f"<{cid:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for cid, ch in chunk]
        lines.append("endbfchar")
    lines += ["endcmap CMapName currentdict /CMap defineresource pop end end"]
    return "\n".join(lines).encode("ascii")


def _embed_cjk_font(pdf: pikepdf.Pdf, font: _CjkFont) -> pikepdf.Object:
    widths: list[object] = []
    for cid in sorted(font.widths):
        if font.widths[cid] != 1000:
            widths += [cid, pikepdf.Array([font.widths[cid]])]
    name = f"/{font.base_font}"
    descriptor = _obj(
        pdf,
        f"<< /Type /FontDescriptor /FontName {name} /Flags 4 /FontBBox [-1002 -1048 2928 1808] "
        "/ItalicAngle 0 /Ascent 1160 /Descent -288 /CapHeight 733 /StemV 80 >>",
        FontFile3=pdf.make_stream(font.cff, Subtype=pikepdf.Name.CIDFontType0C),
    )
    cid_font = _obj(
        pdf,
        f"<< /Type /Font /Subtype /CIDFontType0 /BaseFont {name} /DW 1000 "
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> >>",
        FontDescriptor=descriptor,
        W=pikepdf.Array(widths),
    )
    return _obj(
        pdf,
        f"<< /Type /Font /Subtype /Type0 /BaseFont {name} /Encoding /Identity-H >>",
        DescendantFonts=pikepdf.Array([cid_font]),
        ToUnicode=pdf.make_stream(_to_unicode_cmap(font)),
    )


def _helvetica(text: str) -> bytes:
    try:
        raw = text.encode("cp1252")
    except UnicodeEncodeError as exc:
        raise ConfigurationError(f"{text!r} cannot be drawn in Helvetica: use CJK text") from exc
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _chinese_number(n: int) -> str:
    if n < 10:
        return _NUMERALS[n]
    if n < 20:
        return "十" + (_NUMERALS[n % 10] if n % 10 else "")
    if n < 100:
        return _NUMERALS[n // 10] + "十" + (_NUMERALS[n % 10] if n % 10 else "")
    rest = n % 100
    tail = "" if not rest else ("零" if rest < 10 else "") + _chinese_number(rest)
    if 10 <= rest < 20:
        tail = "一" + tail
    return _NUMERALS[n // 100 % 10] + "百" + tail


class _PageWriter:
    """Lays out lines of text on one page and collects its content stream."""

    def __init__(self, size: tuple[float, float], font: _CjkFont | None) -> None:
        self.width, self.height = size
        self.font = font
        self.ops: list[bytes] = []
        self.y = self.height - MARGIN

    def text(self, x: float, y: float, text: str, size: float, *, latin: bool = False) -> None:
        if latin or self.font is None:
            operand, font_name = _helvetica(text), b"/F1"
        else:
            operand, font_name = self.font.encode(text), b"/F2"
        self.ops.append(b"BT %s %.2f Tf %.2f %.2f Td %s Tj ET" % (font_name, size, x, y, operand))

    def measure(self, text: str, size: float) -> float:
        if self.font is None:
            return len(text) * size * 0.5  # Helvetica's average advance is about half an em
        return self.font.width(text, size)

    def wrap(self, text: str, size: float) -> list[str]:
        width = self.width - 2 * MARGIN
        lines, line = [], ""
        for ch in text:
            if line and ch not in _NO_LINE_START and self.measure(line + ch, size) > width:
                # Latin text breaks at a space, Chinese text anywhere but before punctuation.
                cut = line.rfind(" ") + 1 if self.font is None and " " in line else len(line)
                lines.append(line[:cut])
                line = line[cut:]
            line += ch
        return [*lines, line] if line else lines

    def paragraph(self, text: str, size: float = _BODY_SIZE, *, bottom: float) -> bool:
        """Write a wrapped paragraph if it fits above ``bottom``; report whether it did."""
        lines = self.wrap(text, size)
        if self.y - len(lines) * size * _LINE_GAP < bottom:
            return False
        for line in lines:
            self.y -= size * _LINE_GAP
            self.text(MARGIN, self.y, line, size)
        self.y -= size * 0.6
        return True

    def rule(self, y: float) -> None:
        self.ops.append(
            b"q 0.5 w 0.6 G %.2f %.2f m %.2f %.2f l S Q" % (MARGIN, y, self.width - MARGIN, y)
        )


def _page_contents(
    index: int,
    pages: int,
    size: tuple[float, float],
    title: str,
    font: _CjkFont | None,
    clause: int,
) -> tuple[bytes, int]:
    page = _PageWriter(size, font)
    page.text(
        MARGIN, page.height - 40, "Qianshu test document - Contract No. QS-2025-0001", 8, latin=True
    )
    page.rule(page.height - 46)
    page.text(MARGIN, 30, f"Page {index + 1} of {pages}", 8, latin=True)
    if font is not None:
        footer = f"第 {index + 1} 页 共 {pages} 页"
        page.text((page.width - font.width(footer, 9)) / 2, 30, footer, 9)
    last = index == pages - 1
    bottom = MARGIN + (SIGNATURE_BLOCK_HEIGHT if last else 0)
    if index == 0:
        title_size = 20.0
        page.y -= title_size
        page.text((page.width - page.measure(title, title_size)) / 2, page.y, title, title_size)
        page.y -= title_size
        if font is not None:
            for text in _PREAMBLE:
                page.paragraph(text, bottom=bottom)
    while page.paragraph(_clause(clause, cjk=font is not None), bottom=bottom):
        clause += 1
    if last:
        _signature_block(page)
    return b"\n".join(page.ops), clause


def _clause(number: int, *, cjk: bool) -> str:
    if not cjk:
        return f"Clause {number + 1}. " + "This agreement binds the Buyer and the Seller. " * 4
    heading, text = _CLAUSES[number % len(_CLAUSES)]
    return f"第{_chinese_number(number + 1)}条 {heading}：{text}"


def _signature_block(page: _PageWriter) -> None:
    top = MARGIN + SIGNATURE_BLOCK_HEIGHT - 20
    for column, lines in enumerate(_SIGNATURE_LINES if page.font else _LATIN_SIGNATURE_LINES):
        x = MARGIN + column * (page.width - 2 * MARGIN) / 2
        for row, text in enumerate(lines):
            page.text(x, top - row * 22, text, 10)


def _save(pdf: pikepdf.Pdf, **kwargs: object) -> bytes:
    out = io.BytesIO()
    options: dict[str, object] = {
        "deterministic_id": "encryption" not in kwargs,  # qpdf refuses it for encrypted output
        "object_stream_mode": pikepdf.ObjectStreamMode.disable,
        "compress_streams": True,
    }
    pdf.save(out, **(options | kwargs))  # type: ignore[arg-type]
    return out.getvalue()


def make_test_pdf(
    pages: int = 1,
    *,
    title: str | None = None,
    with_cjk_text: bool = True,
    size: tuple[float, float] = A4_PORTRAIT,
    sizes: Sequence[tuple[float, float]] | None = None,
    rotations: Sequence[int] | None = None,
) -> bytes:
    """Build a realistic contract-like PDF with text on every page.

    ``title`` defaults to 采购合同 (or "Purchase Contract" without CJK text). ``sizes`` and
    ``rotations`` optionally give each page its own MediaBox size and /Rotate value (the lists must
    have ``pages`` items). Without CJK text every text is Helvetica. Raises
    :class:`ConfigurationError` when the CJK font is missing or a Helvetica text is not Latin.
    """
    if pages < 1:
        raise ConfigurationError("a test PDF needs at least one page")
    sizes = list(sizes) if sizes is not None else [size] * pages
    rotations = list(rotations) if rotations is not None else [0] * pages
    if len(sizes) != pages or len(rotations) != pages:
        raise ConfigurationError("sizes and rotations need one item per page")
    title = title or ("采购合同" if with_cjk_text else "Purchase Contract")
    font = None
    if with_cjk_text:
        texts = (
            "".join(_PREAMBLE)
            + "".join(h + t for h, t in _CLAUSES)
            + "".join("".join(lines) for lines in _SIGNATURE_LINES)
        )
        font = _subset_cjk_font("".join(sorted(set(texts + title + _EXTRA_CHARS + "：（）"))))
    pdf = pikepdf.new()
    helvetica = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    fonts = pikepdf.Dictionary(F1=_obj(pdf, helvetica))
    if font is not None:
        fonts.F2 = _embed_cjk_font(pdf, font)
    resources = pdf.make_indirect(pikepdf.Dictionary(Font=fonts))
    clause = 0
    for index in range(pages):
        content, clause = _page_contents(index, pages, sizes[index], title, font, clause)
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, *sizes[index]],
            Resources=resources,
            Contents=pdf.make_stream(content),
        )
        if rotations[index]:
            page.Rotate = rotations[index]
        pdf.pages.append(pikepdf.Page(page))
    pdf.docinfo.Title = title
    pdf.docinfo.Producer = "Qianshu testpdfs"
    return _save(pdf)


def _open(data: bytes) -> pikepdf.Pdf:
    return pikepdf.open(io.BytesIO(data))


def _obj(pdf: pikepdf.Pdf, syntax: str, **refs: object) -> pikepdf.Object:
    """An indirect object from PDF syntax, plus entries that refer to other objects."""
    obj = pikepdf.Object.parse(syntax.encode())
    for key, value in refs.items():
        obj[f"/{key}"] = value
    return pdf.make_indirect(obj)


def _js(pdf: pikepdf.Pdf, script: str) -> pikepdf.Object:
    return _obj(pdf, f"<< /Type /Action /S /JavaScript /JS ({script}) >>")


def make_pdf_with_javascript() -> bytes:
    """A two-page test PDF full of active content.

    Document JavaScript (Names/JavaScript), a JavaScript /OpenAction, /AA on the catalog and a
    page, Link annotations with JavaScript, Launch, ``javascript:`` URI, GoToR and a plain https
    URI action, and an outline item whose JavaScript action is chained to a Launch by /Next.
    """
    pdf = _open(make_test_pdf(2))
    root, page = pdf.Root, pdf.pages[0].obj
    root.Names = _obj(pdf, "<< /JavaScript << /Names [(init)] >> >>")
    root.Names.JavaScript.Names.append(_js(pdf, "app.alert('hello from the document');"))
    root.OpenAction = _js(pdf, "this.print({bUI: false});")
    root.AA = _obj(pdf, "<< >>", WC=_js(pdf, "app.alert('closing');"))
    page.AA = _obj(pdf, "<< >>", O=_js(pdf, "app.alert('page open');"))
    actions = [
        "/S /JavaScript /JS (1+1)",
        "/S /Launch /F (cmd.exe)",
        "/S /URI /URI (javascript:alert\\(1\\))",
        "/S /GoToR /F (other.pdf) /D [0 /Fit]",
        "/S /URI /URI (https://example.com/terms)",
    ]
    page.Annots = pdf.make_indirect(
        pikepdf.Array(
            _obj(
                pdf,
                f"<< /Type /Annot /Subtype /Link /Rect [72 {y} 200 {y + 20}] /Border [0 0 0]"
                f" /A << {action} >> >>",
            )
            for y, action in zip(range(700, 500, -30), actions, strict=False)
        )
    )
    chained = _js(pdf, "app.alert('outline');")
    chained.Next = _obj(pdf, "<< /S /Launch /F (calc.exe) >>")
    item = _obj(pdf, "<< /Title (Clause 1) >>", A=chained)
    root.Outlines = item.Parent = _obj(pdf, "<< /Type /Outlines /Count 1 >>", First=item, Last=item)
    return _save(pdf)


def make_pdf_with_attachments() -> bytes:
    """A test PDF with an embedded file (Names/EmbeddedFiles) and a FileAttachment annotation."""
    pdf = _open(make_test_pdf(1))
    payload = pdf.make_stream(b"MZ not really an executable", Type=pikepdf.Name.EmbeddedFile)
    specs = [
        _obj(
            pdf, f"<< /Type /Filespec /F ({name}) /UF ({name}) >>", EF=pikepdf.Dictionary(F=payload)
        )
        for name in ("invoice.exe", "payload.bin")
    ]
    pdf.Root.Names = _obj(pdf, "<< /EmbeddedFiles << /Names [(invoice.exe)] >> >>")
    pdf.Root.Names.EmbeddedFiles.Names.append(specs[0])
    icon = _form_xobject(pdf, b"0 0 1 rg 0 0 16 16 re f", (0, 0, 16, 16))
    annot = _obj(
        pdf,
        "<< /Type /Annot /Subtype /FileAttachment /Rect [300 500 316 516] >>",
        FS=specs[1],
        AP=pikepdf.Dictionary(N=icon),
    )
    pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([annot]))
    return _save(pdf)


def _form_xobject(
    pdf: pikepdf.Pdf, content: bytes, rect: tuple[float, ...], **extra: object
) -> pikepdf.Object:
    width, height = rect[2] - rect[0], rect[3] - rect[1]
    bbox = [0, 0, width, height]
    return pdf.make_stream(
        content, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form, BBox=bbox, **extra
    )


#: Rectangles of the fields made by :func:`make_pdf_with_form_fields` (x1, y1, x2, y2).
TEXT_FIELD_RECT = (300.0, 600.0, 500.0, 630.0)
CHECKBOX_RECT = (300.0, 550.0, 330.0, 580.0)


def make_pdf_with_form_fields() -> bytes:
    """A one-page test PDF with filled AcroForm fields and form-related active content.

    A text field ``name`` (value "Zhang San", with an appearance and a JavaScript /AA), a checked
    checkbox ``agree`` (appearance states /Yes and /Off), a text field ``hidden_value`` with a
    value but no appearance, an empty signature field ``Sig1``, and an XFA entry in the AcroForm.
    """
    pdf = _open(make_test_pdf(1))
    page = pdf.pages[0].obj
    fonts = pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=page.Resources.Font.F1))
    text_ap = _form_xobject(
        pdf,
        b"/Tx BMC q 0.9 0.9 1 rg 0 0 200 30 re f BT 0 g /Helv 16 Tf 4 9 Td (Zhang San) Tj ET Q EMC",
        TEXT_FIELD_RECT,
        Resources=fonts,
    )
    check = b"q 0 g 0 0 30 30 re 2 w S 4 w 5 5 m 25 25 l 5 25 m 25 5 l S Q"
    states = pikepdf.Dictionary(
        Yes=_form_xobject(pdf, check, CHECKBOX_RECT),
        Off=_form_xobject(pdf, b"q 0 g 0 0 30 30 re 2 w S Q", CHECKBOX_RECT),
    )
    widget = "/Type /Annot /Subtype /Widget /F 4"
    rect = "/Rect [{} {} {} {}]"
    widgets = [
        _obj(
            pdf,
            f"<< {widget} /FT /Tx /T (name) /V (Zhang San) /DA (/Helv 16 Tf 0 g) "
            f"{rect.format(*TEXT_FIELD_RECT)} >>",
            P=page,
            AP=pikepdf.Dictionary(N=text_ap),
            AA=pikepdf.Dictionary(K=_js(pdf, "event.value = 'x';")),
        ),
        _obj(
            pdf,
            f"<< {widget} /FT /Btn /T (agree) /V /Yes /AS /Yes {rect.format(*CHECKBOX_RECT)} >>",
            P=page,
            AP=pikepdf.Dictionary(N=states),
        ),
        _obj(
            pdf,
            f"<< {widget} /FT /Tx /T (hidden_value) /V (secret) /DA (/Helv 12 Tf 0 g) "
            "/Rect [300 500 500 530] >>",
            P=page,
        ),
        _obj(
            pdf,
            "<< /Type /Annot /Subtype /Widget /FT /Sig /T (Sig1) /F 132 /Rect [72 100 272 160] >>",
            P=page,
        ),
    ]
    page.Annots = pdf.make_indirect(pikepdf.Array(widgets))
    xfa = b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'><script>app.alert(1)</script></xdp:xdp>"
    pdf.Root.AcroForm = _obj(
        pdf,
        "<< /DA (/Helv 12 Tf 0 g) >>",
        Fields=pikepdf.Array(widgets),
        DR=fonts,
        XFA=pdf.make_stream(xfa),
    )
    return _save(pdf)


def make_encrypted_pdf(
    *,
    user_password: str = "",
    owner_password: str = "owner",  # noqa: S107 - test data
) -> bytes:
    """A test PDF encrypted with AES-256; an empty user password opens it without asking."""
    pdf = _open(make_test_pdf(1))
    return _save(pdf, encryption=pikepdf.Encryption(owner=owner_password, user=user_password, R=6))


def flate_bomb(decompressed_bytes: int) -> bytes:
    """A valid zlib stream of about ``decompressed_bytes`` zero bytes, made in milliseconds."""
    mib = 1 << 20
    compressor = zlib.compressobj(9)
    # After a full flush the compressor state is reset, so each MiB of zeros compresses to the
    # same block: repeat it instead of compressing gigabytes.
    first = compressor.compress(bytes(mib)) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(bytes(mib)) + compressor.flush(zlib.Z_FULL_FLUSH)
    count = max(1, decompressed_bytes // mib)
    # Adler-32 of n zero bytes: A stays 1, B adds 1 per byte.
    adler = ((count * mib) % 65521) << 16 | 1
    return first[:2] + block * count + b"\x03\x00" + adler.to_bytes(4, "big")


def make_flate_bomb_pdf(decompressed_bytes: int = GIB, *, layers: int = 1) -> bytes:
    """A one-page PDF whose page resources hold a Flate stream inflating to ``decompressed_bytes``.

    With ``layers=2`` the bomb is compressed once more and declared ``/Filter [/FlateDecode
    /FlateDecode]``, so a scan of the outer layer alone sees only about 1 MB per GiB.
    """
    pdf = _open(make_test_pdf(1, with_cjk_text=False))
    data = flate_bomb(decompressed_bytes)
    filters = [pikepdf.Name.FlateDecode]
    for _ in range(layers - 1):
        data = zlib.compress(data, 9)
        filters.append(pikepdf.Name.FlateDecode)
    bomb = pdf.make_stream(
        b"", Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form, BBox=[0, 0, 10, 10]
    )
    bomb.write(data, filter=pikepdf.Array(filters))
    pdf.pages[0].obj.Resources.XObject = pikepdf.Dictionary(Bomb=bomb)
    # With compress_streams qpdf would inflate a chain of filters to re-encode it as one.
    return _save(pdf, compress_streams=False)


def make_signed_pdf(
    data: bytes | None = None,
    *,
    visible: bool = True,
    field_name: str = "Signature1",
    page: int = -1,
    box: tuple[int, int, int, int] = (72, 40, 252, 120),
) -> bytes:
    """Sign ``data`` (default: a one-page test PDF) with pyHanko and a throw-away self-signed key.

    The signature is visible in ``box`` (by default under 甲方's signature block) on ``page``
    (default: the last) unless ``visible`` is false. The key and certificate are generated for
    each call (ECDSA P-256), so the output differs between calls.
    """
    import datetime

    from asn1crypto import keys, x509
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = ec.generate_private_key(ec.SECP256R1())
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "Qianshu Test Signer")])
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    cert = (
        cx509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(cx509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(cx509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    asn1_cert = x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    asn1_key = keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    signer = signers.SimpleSigner(
        signing_cert=asn1_cert,
        signing_key=asn1_key,
        cert_registry=SimpleCertificateStore.from_certs([asn1_cert]),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(data or make_test_pdf(1)))
    spec = fields.SigFieldSpec(field_name, on_page=page, box=box if visible else None)
    fields.append_signature_field(writer, spec)
    out = signers.sign_pdf(
        writer, signers.PdfSignatureMetadata(field_name=field_name), signer=signer
    )
    return bytes(out.getvalue())
