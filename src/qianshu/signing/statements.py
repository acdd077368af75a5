"""The void statement (作废声明): a one-page PDF that the parties of a completed envelope sign to
void it, with one signing area per party.

:func:`render_void_statement` returns the PDF and, for each party in order, the page and the
rectangle (PDF points, origin bottom-left) where its signature or seal goes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qianshu.signing import fonts
from qianshu.signing.errors import ConfigurationError, ImageError
from qianshu.signing.stamps import Rect

if TYPE_CHECKING:
    from fpdf import FPDF

_PT_PER_MM = 72 / 25.4
_A4_HEIGHT_MM = 297.0
_MARGIN_MM = 20.0
_AREA_W_MM = 78.0
_AREA_H_MM = 48.0
_MAX_PARTIES = 30


@dataclass(frozen=True)
class VoidStatement:
    title: str
    number: str
    initiator: str
    completed_at: str
    reason: str
    documents: tuple[tuple[str, str], ...]  # (file name, SHA-256 of the signed file)
    parties: tuple[tuple[str, str], ...]  # (name, role label), in signing order
    date: str


def _pdf(font_path: str) -> FPDF:
    from fpdf import FPDF  # ~0.3 s to import: not at the web process's start-up

    if not Path(font_path).is_file():
        raise ConfigurationError(f"font not found: {font_path}")
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_margins(_MARGIN_MM, _MARGIN_MM, _MARGIN_MM)
    pdf.set_auto_page_break(auto=True, margin=_MARGIN_MM)
    pdf.add_font("cjk", "", font_path, collection_font_number=fonts.collection_index(font_path))
    pdf.set_font("cjk", size=11)
    return pdf


def _rect(page_index: int, x_mm: float, y_mm: float) -> tuple[int, Rect]:
    """An area given by its top-left corner in fpdf's millimetres, as PDF points."""
    x1 = x_mm * _PT_PER_MM
    y2 = (_A4_HEIGHT_MM - y_mm) * _PT_PER_MM
    return page_index, Rect(x1, y2 - _AREA_H_MM * _PT_PER_MM, x1 + _AREA_W_MM * _PT_PER_MM, y2)


def render_void_statement(
    statement: VoidStatement, *, font_path: str = fonts.SANS_REGULAR
) -> tuple[bytes, list[tuple[int, Rect]]]:
    """The statement PDF and each party's signing area (zero-based page, rectangle)."""
    if not statement.parties:
        raise ImageError("a void statement needs at least one party")
    if len(statement.parties) > _MAX_PARTIES:
        raise ImageError(f"a void statement has at most {_MAX_PARTIES} parties")
    pdf = _pdf(font_path)
    pdf.add_page()
    width = pdf.w - 2 * _MARGIN_MM
    pdf.set_font("cjk", size=20)
    pdf.cell(width, 14, "作废声明", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=11)
    pdf.ln(4)
    pdf.multi_cell(
        width,
        7,
        f"签署各方一致同意：编号为 {statement.number} 的签署任务“{statement.title}”"
        f"（发起方：{statement.initiator}，完成时间：{statement.completed_at}）所签署的下列文件"
        "自本声明由各方签署完成之时起作废，不再具有效力。",
        new_x="LMARGIN",
        new_y="NEXT",
        align="L",
    )
    pdf.ln(3)
    for index, (name, sha256) in enumerate(statement.documents, start=1):
        pdf.set_font("cjk", size=10)
        pdf.multi_cell(width, 6, f"{index}. {name}", new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.set_font("cjk", size=8)
        pdf.multi_cell(width, 5, f"SHA-256：{sha256}", new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(3)
    pdf.set_font("cjk", size=11)
    reason = f"作废原因：{statement.reason}"
    pdf.multi_cell(width, 7, reason, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(6)
    pdf.cell(width, 8, "签署各方：", new_x="LMARGIN", new_y="NEXT")
    areas = []
    column_gap = width - 2 * _AREA_W_MM
    for index, (name, role) in enumerate(statement.parties):
        column = index % 2
        if column == 0 and pdf.get_y() + _AREA_H_MM + 10 > pdf.h - _MARGIN_MM:
            pdf.add_page()
        x = _MARGIN_MM + column * (_AREA_W_MM + column_gap)
        y = pdf.get_y()
        pdf.set_xy(x, y)
        pdf.set_font("cjk", size=9)
        pdf.cell(_AREA_W_MM, 6, f"{role}：{name}"[:60])
        pdf.set_draw_color(200, 200, 200)
        pdf.rect(x, y + 7, _AREA_W_MM, _AREA_H_MM)
        areas.append(_rect(pdf.page - 1, x, y + 7))
        if column == 1 or index == len(statement.parties) - 1:
            pdf.set_xy(_MARGIN_MM, y + 7 + _AREA_H_MM + 4)
    pdf.set_font("cjk", size=10)
    pdf.cell(width, 8, f"声明日期：{statement.date}", new_x="LMARGIN", new_y="NEXT")
    out = io.BytesIO()
    pdf.output(out)
    return out.getvalue(), areas
