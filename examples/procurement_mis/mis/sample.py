"""A one-page sample contract (采购合同) for contracts entered without a PDF.

Its signature block carries the words the fields are anchored to (契约锁-style keyword
positioning, see :mod:`mis.esign`): 乙方履约代表（签字）, 乙方（盖章）, 甲方履约代表（签字）,
甲方（盖章）. An uploaded contract must carry the same words on its signature page.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from fontTools.ttLib import TTCollection
from fpdf import FPDF
from fpdf.enums import WrapMode

if TYPE_CHECKING:
    from mis.models import Contract

# Debian's fonts-noto-cjk, then other common CJK fonts.
FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
# The words of the signature block, shared with the field anchors.
SUPPLIER_SIGN = "乙方履约代表（签字）："
SUPPLIER_SEAL = "乙方（盖章）："
BUYER_SIGN = "甲方履约代表（签字）："
BUYER_SEAL = "甲方（盖章）："


class NoFont(Exception):
    """No CJK font to write the sample contract with."""


def _font() -> tuple[str, int]:
    """A CJK font file and, for a collection, the index of its Simplified Chinese face."""
    candidates = [settings.CONTRACT_FONT] if settings.CONTRACT_FONT else list(FONTS)
    for path in candidates:
        if not Path(path).is_file():
            continue
        if not path.lower().endswith(".ttc"):
            return path, 0
        faces = TTCollection(path, lazy=True).fonts
        names = [str(face["name"].getDebugName(1)) for face in faces]
        simplified = [i for i, name in enumerate(names) if name.endswith(" SC")]
        return path, simplified[0] if simplified else 0
    raise NoFont("没有可用的中文字体，请上传合同 PDF，或设置 MIS_CONTRACT_FONT。")


def make_contract_pdf(contract: Contract, buyer: str) -> bytes:
    """The contract text of ``contract`` between ``buyer`` (甲方) and its supplier (乙方)."""
    path, index = _font()
    pdf = FPDF(unit="pt", format="A4")
    pdf.set_margins(60, 60, 60)
    pdf.set_auto_page_break(False)
    pdf.add_font("cjk", fname=path, collection_font_number=index)
    pdf.add_page()
    pdf.set_font("cjk", size=20)
    pdf.cell(0, 30, "采购合同", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    pdf.cell(0, 20, f"合同编号：{contract.number}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=11)
    parties = [
        f"甲方（采购人）：{buyer}",
        f"乙方（供应商）：{contract.supplier_name}",
        f"乙方统一社会信用代码：{contract.supplier_credit_code}",
    ]
    for line in parties:
        pdf.cell(0, 20, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    clauses = [
        f"一、采购内容：{contract.title}，规格、数量及技术要求见招标文件及乙方投标文件。",
        f"二、合同金额：人民币 {contract.amount:,.2f} 元（含税），包括货物、运输、安装及培训等"
        "全部费用。",
        "三、交付与验收：乙方在合同生效后三十日内交付，甲方在交付后十个工作日内组织验收。",
        "四、付款方式：验收合格后，甲方在收到乙方发票后三十日内支付全部合同金额。",
        "五、违约责任：任何一方违反本合同约定，应向对方支付合同金额百分之五的违约金。",
        "六、本合同经双方履约代表签字并加盖合同专用章后生效。本合同以电子方式签署，"
        "电子签名、电子印章与手写签名、实物印章具有同等法律效力。",
    ]
    for clause in clauses:
        pdf.multi_cell(0, 20, clause, wrapmode=WrapMode.CHAR, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
    # The signature block: 甲方 on the left, 乙方 on the right. A round seal (42 mm) is
    # centred on the 盖章 line; the signature line sits below it.
    for x, seal, sign in ((60, BUYER_SEAL, BUYER_SIGN), (320, SUPPLIER_SEAL, SUPPLIER_SIGN)):
        pdf.text(x, 500, seal)
        pdf.text(x, 620, sign)
        pdf.text(x, 670, "日期：")
    return bytes(pdf.output())
