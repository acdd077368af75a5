"""The completion lock: after the platform's completion signature nothing may be added.

Issue 11 item 1 reproduced a forged overlay on an uncertified (指定位置签署) document: after
completion, a new genuine signature from a certificate the platform trusts, whose appearance
covers the contract text, verified as valid. These tests play that attacker with pyHanko (what an
attacker would use) against certified and uncertified documents, and check that our verifier and
pyHanko's own difference analysis both fail the document — while the normal flows stay valid.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext

from qianshu.signing import documents
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.errors import FieldError
from qianshu.signing.stamps import Rect
from qianshu.signing.verify import verify_pdf
from tests.signing import helpers

# The page text line sits at (72, 760); a rectangle over it, as the overlay attack used.
OVER_TEXT = (60, 740, 420, 790)


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return helpers.make_platform()


def _uncertified(platform: EphemeralPlatform) -> bytes:
    """指定位置签署: prepared without certification, the signer declares its field while signing."""
    prepared = documents.prepare_document(
        helpers.make_pdf(),
        [],
        certifier=platform.certifier,
        timestamper=platform.timestamper,
        certify=False,
    )
    declared = documents.declare_fields(
        prepared, [documents.FieldSpec("alice", 0, Rect(60, 60, 220, 120))]
    )
    signed, _ = helpers.sign_person(platform, declared)
    return signed


def _certified(platform: EphemeralPlatform) -> bytes:
    return helpers.signed_document(platform, finished=False).signed


def _complete(platform: EphemeralPlatform, data: bytes) -> bytes:
    return documents.finish_document(
        data,
        timestamper=platform.timestamper,
        revocation=platform.revocation,
        trust_roots=platform.trust_roots,
        locker=platform.certifier,
    )


@pytest.fixture(scope="module", params=["uncertified", "certified"])
def completed(request: pytest.FixtureRequest, platform: EphemeralPlatform) -> bytes:
    build = _uncertified if request.param == "uncertified" else _certified
    return _complete(platform, build(platform))


def _vc(platform: EphemeralPlatform) -> ValidationContext:
    return ValidationContext(trust_roots=platform.trust_roots, allow_fetching=False)


def _pyhanko_statuses(platform: EphemeralPlatform, data: bytes) -> dict[str, object]:
    reader = PdfFileReader(io.BytesIO(data), strict=True)
    return {
        str(sig.field_name): validate_pdf_signature(sig, _vc(platform), _vc(platform))
        for sig in reader.embedded_signatures
        if sig.sig_object_type != "/DocTimeStamp"
    }


def test_a_completed_document_is_valid_b_lta_and_locked(
    platform: EphemeralPlatform, completed: bytes
) -> None:
    report = verify_pdf(completed, platform.trust)
    assert report.verdict == "valid", report.reason
    assert [s.field_name for s in report.signatures][-2:] == [
        documents.COMPLETION_FIELD,
        documents.DOC_TIMESTAMP_FIELD,
    ]
    for sig in report.signatures:
        assert sig.intact and sig.valid and sig.trusted
        if sig.kind != "document_timestamp":
            assert sig.pades_level == "B-LTA", sig
    statuses = _pyhanko_statuses(platform, completed)
    assert all(s.bottom_line for s in statuses.values())  # type: ignore[attr-defined]
    lock = PdfFileReader(io.BytesIO(completed)).embedded_signatures[-2]
    assert lock.field_name == documents.COMPLETION_FIELD
    assert lock.docmdp_level is not None and lock.docmdp_level.value == 1  # P=1: no changes
    assert lock.sig_field["/Lock"]["/Action"] == "/All"


def _sign_new_field(platform: EphemeralPlatform, name: str = "Mallory") -> Callable[..., bytes]:
    """An attacker with a genuine certificate of the same platform adds a visible signature
    over the contract text, time-stamped, the way pyHanko's CLI would."""

    def attack(data: bytes) -> bytes:
        meta = signers.PdfSignatureMetadata(
            field_name="overlay", subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
        )
        pdf_signer = signers.PdfSigner(
            meta,
            signer=platform.person_signer(name),
            timestamper=platform.timestamper,
            stamp_style=TextStampStyle(stamp_text="Amount: 923,456.00"),
            new_field_spec=SigFieldSpec("overlay", on_page=0, box=OVER_TEXT),
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(data))
        return pdf_signer.sign_pdf(writer).getvalue()  # type: ignore[no-any-return]

    return attack


def _add_empty_field(data: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    fields.append_signature_field(writer, SigFieldSpec("later", on_page=0, box=OVER_TEXT))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _add_stamp_annotation(data: bytes) -> bytes:
    """A plain annotation (not a field) painting over the text."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    appearance = writer.add_object(
        generic.StreamObject(
            generic.DictionaryObject(
                {
                    pdf_name("/Type"): pdf_name("/XObject"),
                    pdf_name("/Subtype"): pdf_name("/Form"),
                    pdf_name("/BBox"): generic.ArrayObject(
                        [generic.NumberObject(v) for v in (0, 0, 360, 50)]
                    ),
                }
            ),
            stream_data=b"1 1 1 rg 0 0 360 50 re f 0 g BT /Helv 20 Tf 5 15 Td (923,456.00) Tj ET",
        )
    )
    annot = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Stamp"),
                pdf_name("/Rect"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in OVER_TEXT]
                ),
                pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): appearance}),
            }
        )
    )
    page_ref = writer.find_page_for_modification(0)[0]
    writer.register_annotation(page_ref, annot)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


ATTACKS = ["overlay-signature", "empty-field", "stamp-annotation"]


@pytest.mark.parametrize("attack", ATTACKS)
def test_anything_added_after_completion_fails_verification(
    platform: EphemeralPlatform, completed: bytes, attack: str
) -> None:
    apply = {
        "overlay-signature": _sign_new_field(platform),
        "empty-field": _add_empty_field,
        "stamp-annotation": _add_stamp_annotation,
    }[attack]
    tampered = apply(completed)
    assert tampered.startswith(completed)
    report = verify_pdf(tampered, platform.trust)
    assert report.verdict == "invalid", report.reason
    lock = next(s for s in report.signatures if s.field_name == documents.COMPLETION_FIELD)
    assert lock.verdict == "invalid" and lock.docmdp_ok is False
    # pyHanko's own difference analysis says the same about the completion signature.
    status = _pyhanko_statuses(platform, tampered)[documents.COMPLETION_FIELD]
    assert status.docmdp_ok is False and not status.bottom_line  # type: ignore[attr-defined]


def test_filling_a_field_left_empty_after_completion_fails(platform: EphemeralPlatform) -> None:
    """Completion locks every field, also one nobody signed."""
    prepared = helpers.prepare(platform, helpers.make_pdf())
    signed, _ = helpers.sign_person(platform, prepared)
    completed = _complete(platform, signed)
    writer = IncrementalPdfFileWriter(io.BytesIO(completed))
    meta = signers.PdfSignatureMetadata(
        field_name=helpers.SEAL_FIELD, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    tampered = (
        signers.PdfSigner(
            meta,
            signer=platform.seal_signer("Acme Ltd", helpers.CREDIT_CODE, "Contract seal"),
            timestamper=platform.timestamper,
        )
        .sign_pdf(writer, existing_fields_only=True)
        .getvalue()
    )
    report = verify_pdf(tampered, platform.trust)
    assert report.verdict == "invalid", report.reason
    status = _pyhanko_statuses(platform, tampered)[documents.COMPLETION_FIELD]
    assert status.docmdp_ok is False  # type: ignore[attr-defined]


def test_without_the_lock_pyhanko_accepts_the_overlay(platform: EphemeralPlatform) -> None:
    """Control: finished without the completion lock (as before), the uncertified document
    takes the overlay with no disallowed change in pyHanko's eyes — the attack is real, and the
    lock is what makes it fail."""
    finished = documents.finish_document(
        _uncertified(platform),
        timestamper=platform.timestamper,
        revocation=platform.revocation,
        trust_roots=platform.trust_roots,
    )
    tampered = _sign_new_field(platform)(finished)
    statuses = _pyhanko_statuses(platform, tampered)
    assert "overlay" in statuses
    assert all(s.docmdp_ok is not False for s in statuses.values())  # type: ignore[attr-defined]


def test_our_library_refuses_to_add_to_a_locked_document(
    platform: EphemeralPlatform, completed: bytes
) -> None:
    image = helpers.signature_image("Mallory")
    with pytest.raises(FieldError, match="locked"):
        documents.declare_fields(completed, [documents.FieldSpec("x", 0, Rect(60, 60, 220, 120))])
    with pytest.raises(FieldError, match="locked"):
        documents.sign_turn(
            completed,
            [documents.Placement("x", image, new_widgets=((0, Rect(60, 60, 220, 120)),))],
            signer=platform.person_signer("Mallory"),
            timestamper=None,
        )
    with pytest.raises(FieldError, match="already locked"):
        documents.lock_document(completed, signer=platform.certifier, timestamper=None)
