"""Typed text (a signer's filled-in 文本, the signing date) as the appearance of the signer's
own signature: real PDF text, covered by that signature, checked by pdftotext, pyHanko and
pdfsig, and not rewritable afterwards."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from qianshu.signing import documents, textstamps
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.errors import FieldError
from qianshu.signing.filltext import FillError
from qianshu.signing.stamps import Rect
from qianshu.signing.textstamps import TextStamp
from qianshu.signing.verdicts import VALID
from qianshu.signing.verify import format_report, verify_pdf
from tests.signing import helpers
from tests.signing.test_filltext import pdftotext, render

REVIEW = Rect(72, 500, 372, 560)
DATE = Rect(400, 500, 510, 522)
VALUE = "本年度完成教学任务（含实验课），积极参与学科建设。Score 95.5"


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return helpers.make_platform()


def _signed(platform: EphemeralPlatform, value: str = VALUE) -> tuple[bytes, bytes]:
    prepared = helpers.prepare(
        platform,
        helpers.make_pdf(pages=1),
        (documents.FieldSpec("review", 0, REVIEW), documents.FieldSpec("date", 0, DATE)),
    )
    signed = documents.sign_turn(
        prepared,
        [
            documents.Placement("review", TextStamp("自评", value)),
            documents.Placement("date", TextStamp("签署日期", "2026年12月05日", multiline=False)),
        ],
        signer=platform.person_signer("张三"),
        timestamper=platform.timestamper,
    )
    return prepared, signed


def _box_text(data: bytes, rect: Rect) -> str:
    top = 842 - rect.y2  # helpers.make_pdf pages are A4
    crop = ["-r", "72", "-x", f"{rect.x1:.0f}", "-y", f"{top:.0f}"]
    crop += ["-W", f"{rect.x2 - rect.x1:.0f}", "-H", f"{rect.y2 - rect.y1:.0f}"]
    return "".join(pdftotext(data, *crop).split())


def test_text_is_extractable_wrapped_in_its_box_and_drawn(platform: EphemeralPlatform) -> None:
    prepared, signed = _signed(platform)
    assert _box_text(signed, REVIEW) == "".join(VALUE.split())
    assert _box_text(signed, DATE) == "2026年12月05日"
    lines = textstamps.layout(TextStamp("自评", VALUE), REVIEW.x2 - REVIEW.x1, 60).lines
    assert len(lines) == 2, lines  # wrapped, not shrunk to one line
    # drawn: dark pixels in the box where the prepared page has none (PDFium, no form layer
    # needed: pdftotext and viewers both use the widget's appearance)
    before = render(prepared)[842 - 560 : 842 - 500, 72:372]
    assert (before < 128).sum() == 0
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(signed)
    doc.init_forms()
    page = doc[0].render(scale=1, may_draw_forms=True).to_pil().convert("L")
    assert sum(page.crop((72, 842 - 560, 372, 842 - 500)).histogram()[:128]) > 100


def test_each_value_is_covered_by_the_signers_own_valid_signature(
    platform: EphemeralPlatform,
) -> None:
    _, signed = _signed(platform)
    report = verify_pdf(helpers.finish(platform, signed), platform.trust)
    assert report.verdict == VALID, format_report(report)
    mine = {s.field_name: s for s in report.signatures}
    assert mine["review"].signer_name == "张三" and mine["review"].verdict == VALID
    assert mine["date"].signer_name == "张三" and mine["date"].verdict == VALID


@pytest.mark.skipif(not shutil.which("pdfsig"), reason="poppler-utils is in system-deps")
def test_pdfsig_accepts_the_signatures(platform: EphemeralPlatform, tmp_path: object) -> None:
    _, signed = _signed(platform)
    path = tmp_path / "signed.pdf"  # type: ignore[operator]
    path.write_bytes(signed)
    out = subprocess.run(["pdfsig", "-nocert", str(path)], capture_output=True, text=True).stdout
    # the certification and the two text signatures
    assert out.count("Signature Validation: Signature is Valid.") == 3, out


def test_rewriting_a_signed_value_afterwards_is_detected(platform: EphemeralPlatform) -> None:
    """The attack: after the employee signed 自评, somebody replaces the appearance of that
    signature's widget with other text in a later update. The signature still verifies over
    its own revision, but the change after it must fail the document."""
    _, signed = _signed(platform)

    def rewrite(writer: IncrementalPdfFileWriter) -> None:
        for ref in writer.root["/AcroForm"]["/Fields"]:
            widget = ref.get_object()
            if widget.get("/T") == "review":
                ap = textstamps.appearance_stream(
                    writer, TextStamp("自评", "本人不同意考核结果。"), 300, 60
                )
                widget[pdf_name("/AP")] = generic.DictionaryObject({pdf_name("/N"): ap})
                writer.update_container(widget)

    forged = helpers.incremental_update(signed, rewrite)
    assert _box_text(forged, REVIEW) == "本人不同意考核结果。"
    report = verify_pdf(forged, platform.trust)
    assert report.verdict != VALID, format_report(report)


@pytest.mark.parametrize(
    ("stamp", "code"),
    [
        (TextStamp("自评", "很长的内容" * 40), "fill_too_long"),
        (TextStamp("自评", "表情😀"), "fill_missing_glyph"),
        (TextStamp("签署日期", "2026年12月05日" * 12, multiline=False), "fill_too_long"),
    ],
)
def test_a_value_that_cannot_be_drawn_is_refused_before_signing(
    platform: EphemeralPlatform, stamp: TextStamp, code: str
) -> None:
    with pytest.raises(FillError) as caught:
        textstamps.check(stamp, 300, 22)
    assert caught.value.code == code and caught.value.field == stamp.name
    prepared = helpers.prepare(
        platform, helpers.make_pdf(pages=1), (documents.FieldSpec("review", 0, REVIEW),)
    )
    with pytest.raises(FillError):
        documents.sign_turn(
            prepared,
            [documents.Placement("review", TextStamp(stamp.name, stamp.text * 4))],
            signer=platform.person_signer("张三"),
            timestamper=None,
        )


def test_a_single_line_shrinks_to_its_box() -> None:
    wide = textstamps.layout(TextStamp("签署日期", "2026年12月05日", multiline=False), 110, 22)
    narrow = textstamps.layout(TextStamp("签署日期", "2026年12月05日", multiline=False), 50, 22)
    assert wide.size == 10.5 and 4 <= narrow.size < wide.size
    assert narrow.lines == ("2026年12月05日",)


def test_text_is_refused_in_a_field_with_several_widgets(platform: EphemeralPlatform) -> None:
    pdf = helpers.make_pdf(pages=2)
    prepared = documents.prepare_document(
        pdf, [], certifier=platform.certifier, timestamper=None, certify=False
    )
    widgets = ((0, Rect(500, 300, 560, 420)), (1, Rect(500, 300, 560, 420)))
    with pytest.raises(FieldError):
        documents.sign_turn(
            prepared,
            [documents.Placement("cps", TextStamp("x", "文字"), new_widgets=widgets)],
            signer=platform.seal_signer("Acme Ltd", helpers.CREDIT_CODE, "Contract seal"),
            timestamper=None,
        )
