"""Tests of the evidence report (签署报告) renderer: text, layout, fonts, signing, bad input."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import re
import shutil
import subprocess
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from qianshu.signing import fonts
from qianshu.signing.documents import prepare_document
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.errors import ConfigurationError, PdfError
from qianshu.signing.pages import render_page
from qianshu.signing.reports import (
    EvidenceReport,
    ReportDocument,
    ReportEvent,
    ReportParty,
    render_evidence_report,
)
from qianshu.signing.verify import verify_pdf

pytestmark = pytest.mark.skipif(
    not Path(fonts.SANS_REGULAR).is_file() or shutil.which("pdftotext") is None,
    reason="needs fonts-noto-cjk and poppler-utils",
)

CA = "CN=Qianshu Issuing CA, O=Qianshu"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_events(count: int) -> tuple[ReportEvent, ...]:
    actions = ("创建", "发送", "查看", "签署")
    return tuple(
        ReportEvent(
            time=f"2026-12-01 {21 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}",
            actor="张三" if i % 2 else "杭州示例科技有限公司 · 王五",
            action=actions[i % 4],
            ip=f"203.0.113.{i % 250}",
            detail=f"采购合同.pdf 第 {i} 号操作",
            sha256_before=sha(f"before {i}") if i % 4 == 3 else "",
            sha256_after=sha(f"after {i}") if i % 4 == 3 else "",
        )
        for i in range(count)
    )


def make_report(event_count: int = 30, **changes: object) -> EvidenceReport:
    parties = (
        ReportParty(
            order=1,
            role="企业盖章",
            name="杭州示例科技有限公司",
            identity="91330100MA2XXXXX1Y",
            contact="",
            status="已签署",
            acted_at="2026-12-01 21:40:11",
            acted_by="王五",
            seal_name="合同专用章",
            certificate_subject="CN=杭州示例科技有限公司, O=杭州示例科技有限公司",
            certificate_serial="4F:1A:22:9C:03:77:E1:5B",
            certificate_issuer=CA,
            certificate_validity="2026-12-01 至 2027-12-01",
        ),
        ReportParty(
            order=2,
            role="个人签署",
            name="欧阳娜娜",
            identity="4211**********6814",
            contact="138****0001",
            status="已签署",
            acted_at="2026-12-01 21:50:03",
            certificate_subject="CN=欧阳娜娜, serialNumber=QS-P-000123",
            certificate_serial="6C:90:11:02:AA:3B:7D:0E",
            certificate_issuer=CA,
            certificate_validity="2026-12-01 至 2027-12-01",
        ),
        ReportParty(3, "审批", "李四", "", "139****0002", "已同意", "2026-12-01 21:52:40"),
        ReportParty(4, "抄送", "赵六", "", "zhao***@example.com", "已抄送", ""),
    )
    report = EvidenceReport(
        title="华东区域年度设备采购框架合同（2027 版）",
        number="QS-2026-1201-000042",
        initiator="杭州示例科技有限公司（王五）",
        status="已完成",
        created_at="2026-12-01 21:30:00",
        completed_at="2026-12-01 21:52:40",
        generated_at="2026-12-01 21:53:01",
        platform_name="签署 Qianshu 电子签约平台",
        verify_url="https://sign.example.com/verify/QS-2026-1201-000042?code=8F3K2Q",
        audit_head=sha("audit head"),
        documents=(
            ReportDocument("采购框架合同.pdf", 12, sha("original"), sha("final"), 4),
            ReportDocument("附件一 设备清单.pdf", 3, sha("original 2"), sha("final 2"), 4),
        ),
        parties=parties,
        events=make_events(event_count),
    )
    return dataclasses.replace(report, **changes)  # type: ignore[arg-type]


def pdftotext(data: bytes, tmp_path: Path, first: int | None = None) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    pages = ["-f", str(first), "-l", str(first)] if first else []
    result = subprocess.run(
        ["pdftotext", *pages, str(path), "-"], capture_output=True, check=True, text=True
    )
    return result.stdout


def squeeze(text: str) -> str:
    """Extracted text without the line breaks and spaces that wrapping adds."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def report() -> EvidenceReport:
    return make_report()


@pytest.fixture(scope="module")
def rendered(report: EvidenceReport) -> bytes:
    return render_evidence_report(report)


def test_opens_with_pikepdf_and_pdfium(rendered: bytes) -> None:
    with pikepdf.open(io.BytesIO(rendered)) as pdf:
        pages = len(pdf.pages)
        assert [round(float(v)) for v in pdf.pages[0].mediabox] == [0, 0, 595, 842]
    document = pdfium.PdfDocument(rendered)
    try:
        assert len(document) == pages >= 2
    finally:
        document.close()


def test_text_is_extractable(report: EvidenceReport, rendered: bytes, tmp_path: Path) -> None:
    text = pdftotext(rendered, tmp_path)
    flat = squeeze(text)
    for expected in (
        "签署报告",
        "Evidence report",
        report.title,
        report.number,
        "欧阳娜娜",
        "合同专用章",
        "4211**********6814",
        "6C:90:11:02:AA:3B:7D:0E",
        "2026-12-01至2027-12-01",
        report.documents[0].original_sha256,
        report.documents[1].final_sha256,
        report.events[7].detail.replace(" ", ""),
        report.events[7].sha256_before[:16] + "…",
        report.audit_head,
        report.verify_url,
        "本报告由平台签名，任何修改都会使签名失效。可在以下地址验证文件：",
    ):
        assert squeeze(expected) in flat, expected
    assert "第1页/共" in flat


def test_long_event_table_breaks_with_repeated_header(tmp_path: Path) -> None:
    report = make_report(event_count=300)
    data = render_evidence_report(report)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pages = len(pdf.pages)
    assert pages >= 6
    for page in (2, 3, pages - 1):
        text = pdftotext(data, tmp_path, first=page)
        assert "SHA-256 before/after" in text
        assert "详情" in text and "Detail" in text
        assert f"第{page}页/共{pages}页" in squeeze(text)
    assert squeeze(report.events[-1].detail) in squeeze(pdftotext(data, tmp_path))


def test_long_text_wraps_and_missing_glyphs_are_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    title = ("华东区域年度设备采购框架合同补充协议" * 30)[:499] + "尾"
    assert len(title) == 500
    party = dataclasses.replace(
        make_report().parties[1], name="张三😀", status="已签署\u2764\ufe0f"
    )
    family = "家人👨\u200d👩\u200d👧"
    event = ReportEvent("2026-12-01 21:50:03", family, "签署", "::1", detail="x" * 400 + "\x00\t好")
    report = make_report(
        title=title,
        parties=(party,),
        events=(event,),
        initiator="某某" * 150,
        platform_name="平台" * 100,
    )
    with caplog.at_level(logging.WARNING, logger="fpdf"):
        data = render_evidence_report(report)
    assert not [r for r in caplog.records if "missing" in r.getMessage()]
    flat = squeeze(pdftotext(data, tmp_path))
    assert title in flat  # wrapped over many lines, never cut
    assert "张三□" in flat and "已签署□" in flat and "家人□□□" in flat
    assert "x" * 400 + "好" in flat


def test_font_is_embedded_as_subset(rendered: bytes, tmp_path: Path) -> None:
    with pikepdf.open(io.BytesIO(rendered)) as pdf:
        fonts = [font for page in pdf.pages for font in page.Resources.Font.values()]
        assert fonts
        for font in fonts:
            assert font.Subtype == "/Type0"
            descendant = font.DescendantFonts[0]
            assert re.fullmatch(r"/[A-Z]{6}\+NotoSansCJKSC.*", str(descendant.BaseFont))
            assert "/FontFile3" in descendant.FontDescriptor
    # Subsets of a few hundred glyphs: the full faces are over 16 MB each.
    assert len(rendered) < 150_000
    if shutil.which("pdffonts"):
        path = tmp_path / "report.pdf"
        path.write_bytes(rendered)
        listing = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
        rows = listing.splitlines()[2:]
        assert rows and all(re.search(r"CID Type 0C .* yes +yes +yes", row) for row in rows)


def test_signed_report_verifies(rendered: bytes) -> None:
    IncrementalPdfFileWriter(io.BytesIO(rendered), strict=True)
    platform = EphemeralPlatform()
    signed = prepare_document(
        rendered, [], certifier=platform.certifier, timestamper=platform.timestamper
    )
    assert signed.startswith(rendered)
    assert verify_pdf(signed, platform.trust).verdict == "valid"


def test_regular_face_can_draw_headings(tmp_path: Path) -> None:
    data = render_evidence_report(make_report(event_count=3), bold_font_path=None)
    assert "签署报告" in pdftotext(data, tmp_path, first=1)


@pytest.mark.parametrize("which", ["font_path", "bold_font_path"])
def test_missing_font_is_a_configuration_error(which: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        render_evidence_report(make_report(event_count=1), **{which: str(tmp_path / "none.ttc")})


def test_damaged_font_is_a_configuration_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.otf"
    broken.write_bytes(b"OTTO" + b"\x00" * 100)
    with pytest.raises(ConfigurationError):
        render_evidence_report(make_report(event_count=1), font_path=str(broken))


@pytest.mark.parametrize(
    "changes",
    [
        {"title": None},
        {"documents": None},
        {"events": ("签署",)},
        {"documents": (ReportDocument("a.pdf", "3", "", "", 1),)},  # type: ignore[arg-type]
        {"verify_url": "https://x/" + "a" * 5000},
    ],
)
def test_malformed_input_is_a_pdf_error(changes: dict[str, object]) -> None:
    with pytest.raises(PdfError) as info:
        render_evidence_report(make_report(event_count=1, **changes))
    assert info.value.code == "evidence_report"


def test_every_field_overlong_renders_or_fails_cleanly() -> None:
    huge = "签" * 3000 + "x" * 3000

    def blow_up(obj: object) -> object:
        texts = {f.name: huge for f in dataclasses.fields(obj) if f.type == "str"}  # type: ignore[arg-type]
        return dataclasses.replace(obj, **texts)  # type: ignore[type-var]

    report = blow_up(make_report(event_count=3))
    assert isinstance(report, EvidenceReport)
    report = dataclasses.replace(
        report,
        verify_url="https://sign.example.com/" + "a" * 900,
        documents=tuple(map(blow_up, report.documents)),  # type: ignore[arg-type]
        parties=tuple(map(blow_up, report.parties)),  # type: ignore[arg-type]
        events=tuple(map(blow_up, report.events)),  # type: ignore[arg-type]
    )
    try:
        data = render_evidence_report(report)
    except PdfError:
        return
    assert data.startswith(b"%PDF-")


def test_write_artifacts(rendered: bytes, artifacts_dir: Path) -> None:
    directory = artifacts_dir / "reports"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "evidence-report.pdf").write_bytes(rendered)
    png = render_page(rendered, 0, width_px=1000)
    (directory / "evidence-report-p1.png").write_bytes(png)
    assert png.startswith(b"\x89PNG")
