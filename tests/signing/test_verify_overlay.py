"""Issue 11, item 1: what later revisions add to the page.

The reproduced attack: on a document the platform prepared with an approval signature
(signers place their own fields), after completion, anyone with a certificate the verifier
trusts adds a genuine signature whose appearance paints "¥923,456.00" over the printed amount
(¥123,456.00). Before this change the verifier said "all signatures are valid".
"""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec, SigFieldSpec

from qianshu.signing import documents
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.verify import INVALID, VALID, VerificationReport, format_report, verify_pdf
from tests.signing import helpers
from tests.signing.corpus import overlay_files, trust_files


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return EphemeralPlatform()


def _kinds(report: VerificationReport) -> set[str]:
    return {c.kind for c in report.changes}


def test_overlay_after_completion_fails(platform: EphemeralPlatform) -> None:
    report = verify_pdf(overlay_files.overlay_after_completion(platform), platform.trust)
    text = format_report(report)
    assert report.verdict == INVALID, text
    assert report.completed_revision is not None
    assert {"added_after_completion", "covers_page_content"} <= _kinds(report), text
    assert "after the document was completed and locked" in report.reason
    # The attacker's signature itself is genuine: only the change analysis catches it.
    mallory = next(s for s in report.signatures if s.field_name == "mallory")
    assert (mallory.intact, mallory.valid, mallory.trusted) == (True, True, True), text
    covering = next(c for c in report.changes if c.kind == "covers_page_content")
    assert "123,456.00" in covering.description and covering.page == 0


def test_overlay_before_completion_fails(platform: EphemeralPlatform) -> None:
    report = verify_pdf(overlay_files.overlay_before_completion(platform), platform.trust)
    assert report.verdict == INVALID, format_report(report)
    assert report.completed_revision is None
    assert _kinds(report) == {"covers_page_content"}
    assert "paints over the page content" in report.reason
    assert "123,456.00" in report.reason


@pytest.mark.parametrize("locked", [False, True], ids=["time-stamped", "locked"])
def test_self_placed_signature_on_blank_space_stays_valid(
    platform: EphemeralPlatform, locked: bool
) -> None:
    build = overlay_files.self_placed_locked if locked else overlay_files.self_placed_on_blank
    report = verify_pdf(build(platform), platform.trust)
    assert report.verdict == VALID, format_report(report)
    assert not report.changes and not report.warnings
    stamp = next(s for s in report.signatures if s.kind == "document_timestamp")
    assert report.completed_revision == (stamp.revision if locked else None)


def test_self_placed_signature_through_printed_text_is_reported(
    platform: EphemeralPlatform,
) -> None:
    """Signers placing their own fields draw through labels and stamp over company names:
    ink over the text, which stays visible. Reported, not failed."""
    report = verify_pdf(overlay_files.self_placed_over_text(platform), platform.trust)
    assert report.verdict == VALID, format_report(report)
    assert _kinds(report) == {"draws_over_page_content"}
    assert any("draws over" in w and "日期" in w for w in report.warnings)


@pytest.mark.parametrize(
    "background",
    [(255, 255, 255, 255), (255, 250, 205, 255), (225, 225, 225, 255)],
    ids=["white", "cream", "light-grey"],
)
def test_any_opaque_light_patch_over_text_fails(
    platform: EphemeralPlatform, background: tuple[int, int, int, int]
) -> None:
    """Not just white: a tinted patch hides the printed amount as well."""
    signed = overlay_files.uncertified_signed(platform)
    data = overlay_files.overlay(platform, signed, background=background)
    report = verify_pdf(data, platform.trust)
    assert report.verdict == INVALID, format_report(report)
    assert _kinds(report) == {"covers_page_content"}


def test_predeclared_field_over_text_may_be_filled(platform: EphemeralPlatform) -> None:
    """A field declared before the first signature is a box every signer saw: filling it in
    its declared rectangle is allowed even where it covers text."""
    pdf = overlay_files.contract()
    rect = overlay_files.text_rect(pdf, overlay_files.AMOUNT)
    prepared = documents.prepare_document(
        pdf,
        [documents.FieldSpec("amount-seal", 0, rect)],
        certifier=platform.certifier,
        timestamper=platform.timestamper,
    )
    signed = documents.sign_turn(
        prepared,
        [documents.Placement("amount-seal", overlay_files.forged_amount_image(rect))],
        signer=platform.person_signer("Alice"),
        timestamper=platform.timestamper,
    )
    report = verify_pdf(helpers.finish(platform, signed), platform.trust)
    assert report.verdict == VALID, format_report(report)
    assert not report.changes


@pytest.mark.parametrize(
    "builder",
    [
        overlay_files.invisible_signature_after_completion,
        overlay_files.field_added_after_completion,
    ],
    ids=["invisible-signature", "empty-field"],
)
def test_anything_added_after_completion_fails(platform: EphemeralPlatform, builder) -> None:  # type: ignore[no-untyped-def]
    report = verify_pdf(builder(platform), platform.trust)
    assert report.verdict == INVALID, format_report(report)
    assert _kinds(report) == {"added_after_completion"}
    assert all(c.revision > report.completed_revision for c in report.changes)  # type: ignore[operator]
    assert "completed and locked" in report.reason


def test_signature_after_an_unlocked_time_stamp_is_reported_not_failed(
    platform: EphemeralPlatform,
) -> None:
    """PAdES allows signing after a document time-stamp (one party's archive time-stamp,
    then the next signer; our seal-use flow seals a sealed document again): without a
    completion lock, the later signature is reported, not failed."""
    report = verify_pdf(overlay_files.signature_after_unlocked_timestamp(platform), platform.trust)
    assert report.verdict == VALID, format_report(report)
    assert _kinds(report) == {"added_after_timestamp"}
    assert any("no completion lock" in w for w in report.warnings)


def test_archive_renewal_after_completion_is_allowed(platform: EphemeralPlatform) -> None:
    report = verify_pdf(overlay_files.renewal_after_completion(platform), platform.trust)
    assert report.verdict == VALID, format_report(report)
    stamps_ = [s for s in report.signatures if s.kind == "document_timestamp"]
    assert [s.verdict for s in stamps_] == [VALID, VALID]


def test_repainted_signature_fails(platform: EphemeralPlatform) -> None:
    """After Alice signed, an update gives her signature's widget another appearance."""
    signed, _ = helpers.sign_person(platform, helpers.prepare(platform, helpers.make_pdf()))
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    for ref in writer.root["/AcroForm"].raw_get("/Fields"):
        field = ref.get_object()
        if field.get("/T") != helpers.PERSON_FIELD:
            continue
        appearance = writer.add_object(
            generic.StreamObject(
                {
                    pdf_name("/Type"): pdf_name("/XObject"),
                    pdf_name("/Subtype"): pdf_name("/Form"),
                    pdf_name("/BBox"): generic.ArrayObject(
                        [generic.NumberObject(v) for v in (0, 0, 160, 60)]
                    ),
                },
                stream_data=b"0 0 1 rg 10 10 140 40 re f",
            )
        )
        field[pdf_name("/AP")] = generic.DictionaryObject({pdf_name("/N"): appearance})
        writer.mark_update(ref)
    out = io.BytesIO()
    writer.write(out)
    report = verify_pdf(out.getvalue(), platform.trust)
    assert report.verdict == INVALID, format_report(report)
    assert _kinds(report) == {"signature_repainted"}
    # Compared with the certification's own revision, her field was merely "filled in",
    # appearance and all; the difference analysis runs per revision step
    # (qianshu.signing.modifications), so the repaint is a change to a signed field for every
    # signature made before it.
    by_field = {s.field_name: s for s in report.signatures}
    assert by_field[helpers.PERSON_FIELD].verdict == INVALID
    assert by_field["QS-Certification"].verdict == INVALID


def test_widget_moved_outside_its_declared_box_is_checked(platform: EphemeralPlatform) -> None:
    """Declared in a blank spot, then (before signing) moved over the amount."""
    pdf = overlay_files.contract()
    prepared = documents.prepare_document(
        pdf, [], certifier=platform.certifier, timestamper=platform.timestamper, certify=False
    )
    declared = documents.declare_fields(
        prepared, [documents.FieldSpec("bob", 0, overlay_files.BLANK)]
    )
    rect = overlay_files.text_rect(pdf, overlay_files.AMOUNT)
    writer = IncrementalPdfFileWriter(io.BytesIO(declared))
    for ref in writer.root["/AcroForm"].raw_get("/Fields"):
        if ref.get_object().get("/T") == "bob":
            ref.get_object()[pdf_name("/Rect")] = generic.ArrayObject(
                [generic.FloatObject(v) for v in rect.as_tuple()]
            )
            writer.mark_update(ref)
    out = io.BytesIO()
    writer.write(out)
    signed = documents.sign_turn(
        out.getvalue(),
        [documents.Placement("bob", overlay_files.forged_amount_image(rect))],
        signer=platform.person_signer("Bob"),
        timestamper=platform.timestamper,
    )
    report = verify_pdf(signed, platform.trust)
    assert report.verdict == INVALID, format_report(report)


def test_contract_signature_rectangles_are_blank_space() -> None:
    """The corpus's "blank" rectangle really is blank (so the control above means something)."""
    from pypdfium2 import PdfDocument

    doc = PdfDocument(overlay_files.contract())
    try:
        text = doc[0].get_textpage().get_text_bounded(*overlay_files.BLANK.as_tuple())
    finally:
        doc.close()
    assert not text.strip()


def _platform_locks(platform: EphemeralPlatform, data: bytes) -> bytes:
    """The platform's final signature in a new field that locks all fields (FieldMDP)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    fields.append_signature_field(
        writer, SigFieldSpec("QS-Final", field_mdp_spec=FieldMDPSpec(FieldMDPAction.ALL))
    )
    out = io.BytesIO()
    signers.PdfSigner(
        signers.PdfSignatureMetadata(field_name="QS-Final", md_algorithm="sha256"),
        platform.certifier,
        timestamper=platform.timestamper,
    ).sign_pdf(writer, output=out)
    return out.getvalue()


def test_completion_by_a_locking_signature(platform: EphemeralPlatform) -> None:
    """A final approval signature whose field locks everything completes the document too;
    validation data and a document time-stamp may follow it, a new field may not."""
    locked = _platform_locks(platform, overlay_files.uncertified_signed(platform))
    finished = trust_files.finish_by_hand(platform, locked)
    report = verify_pdf(finished, platform.trust)
    assert report.verdict == VALID, format_report(report)
    final = next(s for s in report.signatures if s.field_name == "QS-Final")
    assert report.completed_revision == final.revision
    late = documents.declare_fields(finished, [documents.FieldSpec("late", 0, overlay_files.BLANK)])
    report = verify_pdf(late, platform.trust)
    assert report.verdict == INVALID, format_report(report)
    assert _kinds(report) == {"added_after_completion"}
