"""The sample contract (采购合同): the document of the demo and of the benchmarks, with real text.

:func:`make_test_pdf` writes a contract-like document with real, extractable text: the Chinese
text uses a subset of Noto Sans CJK SC embedded as a CID-keyed CFF font (Identity-H, with a
ToUnicode map), the header and footer use Helvetica. The last page ends with the signature block of
both parties (甲方 left, 乙方 right) in its lower part (see :data:`SIGNATURE_BLOCK_HEIGHT`).
Deterministic: the same arguments give the same bytes. The hostile PDFs of the tests are built in
``tests/support/pdfs.py``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pikepdf

from qianshu.signing.cjkfont import CJK_FONT_PATH as CJK_FONT_PATH
from qianshu.signing.cjkfont import CjkFont as _CjkFont
from qianshu.signing.cjkfont import embed_cjk_font as _embed_cjk_font
from qianshu.signing.cjkfont import make_indirect as make_indirect
from qianshu.signing.cjkfont import subset_cjk_font as _subset_cjk_font
from qianshu.signing.errors import ConfigurationError

A4_PORTRAIT = (595.28, 841.89)
A4_LANDSCAPE = (841.89, 595.28)
MARGIN = 72.0
#: Height in points of the signature block at the bottom of the last page (above the footer).
SIGNATURE_BLOCK_HEIGHT = 150.0

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


def save_pdf(pdf: pikepdf.Pdf, **kwargs: object) -> bytes:
    """``pdf`` saved deterministically (unless encrypted), streams compressed, no object streams."""
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
    fonts = pikepdf.Dictionary(F1=make_indirect(pdf, helvetica))
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
    pdf.docinfo.Producer = "Qianshu samples"
    return save_pdf(pdf)
