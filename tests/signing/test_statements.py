"""The void statement (作废声明): text, one signing area per party, several pages when needed."""

from __future__ import annotations

import io
import subprocess

import pikepdf
import pytest

from qianshu.signing import documents
from qianshu.signing.errors import ConfigurationError, ImageError
from qianshu.signing.statements import VoidStatement, render_void_statement


def _statement(parties: int) -> VoidStatement:
    return VoidStatement(
        title="2026年度采购合同",
        number="QS2026120112345678",
        initiator="某某大学",
        completed_at="2026-12-01 10:00",
        reason="合同金额填写错误",
        documents=(("采购合同.pdf", "ab" * 32),),
        parties=tuple((f"签署方{i}", "个人签署") for i in range(parties)),
        date="2026-12-02",
    )


def _text(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def test_statement_names_the_task_the_files_and_the_reason() -> None:
    pdf, areas = render_void_statement(_statement(4))
    text = _text(pdf)
    for expected in (
        "作废声明",
        "QS2026120112345678",
        "2026年度采购合同",
        "ab" * 32,
        "合同金额填写错误",
    ):
        assert expected in text.replace("\n", ""), expected
    assert len(areas) == 4
    boxes = documents.page_boxes(pdf)
    for page, rect in areas:
        box = boxes[page]
        assert box.x1 <= rect.x1 < rect.x2 <= box.x2 and box.y1 <= rect.y1 < rect.y2 <= box.y2
    # No two areas overlap.
    for i, (page_a, a) in enumerate(areas):
        for page_b, b in areas[i + 1 :]:
            if page_a == page_b:
                assert a.x2 <= b.x1 or b.x2 <= a.x1 or a.y2 <= b.y1 or b.y2 <= a.y1


def test_many_parties_flow_onto_more_pages() -> None:
    pdf, areas = render_void_statement(_statement(12))
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert len(doc.pages) >= 2
    assert {page for page, _rect in areas} == set(range(max(p for p, _ in areas) + 1))


def test_bad_input_is_refused() -> None:
    with pytest.raises(ImageError):
        render_void_statement(_statement(0))
    with pytest.raises(ConfigurationError):
        render_void_statement(_statement(1), font_path="/nonexistent/font.ttc")
