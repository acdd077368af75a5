"""The difference analysis runs once per revision step and is shared by every signature
(qianshu.signing.modifications); what one signature forbids must still fail that signature
only, and a signed field replaced later must fail every signature made before it.

Shortcuts this guards against: judging every signature by the first one's analysis (misses a
lock that only a later signature sets), attributing a step to signatures made after it (fails
a signature for a change it already saw), and comparing each signature only with its own
revision (a value signed in revision 3 and replaced in revision 5 looks like a field "filled
in" since revision 1).
"""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields as hfields
from pyhanko.sign import signers as hsigners

from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.verify import (
    INVALID,
    VALID,
    VerificationReport,
    format_report,
    verify_pdf,
)
from tests.signing import helpers
from tests.signing.corpus import structure_files


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return helpers.make_platform()


def _verdicts(report: VerificationReport) -> dict[str, str]:
    return {s.field_name: s.verdict for s in report.signatures}


def _invalid(data: bytes, platform: EphemeralPlatform) -> tuple[VerificationReport, str]:
    """The report of a document that must be invalid, and its text for failure messages."""
    report = verify_pdf(data, platform.trust)
    text = format_report(report)
    assert report.verdict == INVALID, text
    return report, text


def _approve(
    platform: EphemeralPlatform, data: bytes, field: str, signer: str, locks: list[str] | None
) -> bytes:
    """An approval signature in a new invisible field; ``locks``: a FieldMDP lock on those."""
    lock = (
        hfields.FieldMDPSpec(hfields.FieldMDPAction.INCLUDE, locks) if locks is not None else None
    )
    pdf_signer = hsigners.PdfSigner(
        hsigners.PdfSignatureMetadata(field_name=field),
        signer=platform.person_signer(signer),
        new_field_spec=hfields.SigFieldSpec(field, field_mdp_spec=lock),
    )
    out = pdf_signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(data)))
    return out.getvalue()  # type: ignore[no-any-return]


def _change_amount(data: bytes) -> bytes:
    return helpers.incremental_update(data, lambda w: helpers.set_text_field(w, "amount", "900"))


# --- one step, different verdicts per signature -----------------------------------------------


def test_a_change_only_a_later_signature_locks_fails_that_signature_only(
    platform: EphemeralPlatform,
) -> None:
    """Alice signs without a lock, Bob locks "amount", then "amount" is changed: fine for
    signature 1 (form filling, named), illegal for signature 2."""
    form = helpers.make_pdf(text_field=("amount", "100"))
    alice = _approve(platform, form, "alice", "Alice", None)
    bob = _approve(platform, alice, "bob", "Bob", ["amount"])
    assert _verdicts(verify_pdf(bob, platform.trust)) == {"alice": VALID, "bob": VALID}

    report, text = _invalid(_change_amount(bob), platform)
    by_field = {s.field_name: s for s in report.signatures}
    assert by_field["bob"].verdict == INVALID, text
    assert any("modified after signing" in p for p in by_field["bob"].problems), text
    assert by_field["alice"].verdict == VALID, text
    assert "amount" in by_field["alice"].changed_form_fields, text


def test_a_change_before_a_signature_does_not_count_against_it(
    platform: EphemeralPlatform,
) -> None:
    """Alice locks "amount", it is changed, then Bob signs what he saw: only Alice's signature
    fails."""
    form = helpers.make_pdf(text_field=("amount", "100"))
    alice = _approve(platform, form, "alice", "Alice", ["amount"])
    bob = _approve(platform, _change_amount(alice), "bob", "Bob", None)
    report = verify_pdf(bob, platform.trust)
    assert _verdicts(report) == {"alice": INVALID, "bob": VALID}, format_report(report)


def test_a_new_visible_field_fails_the_certification_but_not_a_later_approval(
    platform: EphemeralPlatform,
) -> None:
    """A visible signature field added after Alice signed: PAdES allows it after an approval
    signature, not after a certification (DocMDP)."""
    signed, _ = helpers.sign_person(platform, helpers.prepare(platform, helpers.make_pdf()))
    box = (320, 300, 440, 360)
    added = helpers.incremental_update(
        signed,
        lambda w: hfields.append_signature_field(w, hfields.SigFieldSpec("extra", box=box)),
    )
    report, text = _invalid(added, platform)
    verdicts = _verdicts(report)
    assert verdicts["QS-Certification"] == INVALID, text
    assert verdicts[helpers.PERSON_FIELD] == VALID, text


# --- a signed field's value replaced later ----------------------------------------------------


def test_replaced_cross_page_seal_is_not_valid(platform: EphemeralPlatform) -> None:
    """The seal painted on every page (one field, several widgets) keeps its appearance while
    its signature is swapped for Mallory's: formerly "all 2 signatures are valid"."""
    sealed = structure_files.multi_widget_signature(platform)
    mallory = platform.person_signer("Mallory")
    forged = helpers.replace_signature_value(
        sealed, "cps", lambda digest: mallory.async_sign(digest, "sha256")
    )
    report, text = _invalid(forged, platform)
    assert _verdicts(report)["QS-Certification"] == INVALID, text
    assert {(c.kind, c.field_name) for c in report.changes} == {("signature_replaced", "cps")}


def test_replaced_person_signature_fails_every_earlier_signature(
    platform: EphemeralPlatform,
) -> None:
    doc = helpers.signed_document(platform, finished=False)
    mallory = platform.person_signer("Mallory")
    forged = helpers.replace_signature_value(
        doc.signed, helpers.SEAL_FIELD, lambda digest: mallory.async_sign(digest, "sha256")
    )
    report, text = _invalid(forged, platform)
    verdicts = _verdicts(report)
    assert verdicts["QS-Certification"] == INVALID, text
    assert verdicts[helpers.PERSON_FIELD] == INVALID, text
    assert "signature_replaced" in {c.kind for c in report.changes}, text


def test_replaced_document_timestamp_is_not_valid(platform: EphemeralPlatform) -> None:
    """The completion time-stamp's field is invisible (no appearance to compare): formerly
    "all 4 signatures are valid" with someone else's time-stamp in its place."""
    doc = helpers.signed_document(platform)
    assert doc.finished is not None
    forged = helpers.replace_signature_value(
        doc.finished,
        "QS-DocTimeStamp",
        lambda digest: platform.timestamper.async_timestamp(digest, "sha256"),
        timestamp=True,
    )
    report, text = _invalid(forged, platform)
    verdicts = _verdicts(report)
    for field in ("QS-Certification", helpers.PERSON_FIELD, helpers.SEAL_FIELD):
        assert verdicts[field] == INVALID, text
    assert {c.kind for c in report.changes} == {"signature_replaced"}, text


def test_removed_signature_value_is_not_valid(platform: EphemeralPlatform) -> None:
    doc = helpers.signed_document(platform, finished=False)

    def remove(writer: IncrementalPdfFileWriter) -> None:
        for ref in writer.root["/AcroForm"].raw_get("/Fields"):
            field = ref.get_object()
            if field.get("/T") == helpers.SEAL_FIELD:
                del field[pdf_name("/V")]
                writer.mark_update(ref)

    report, text = _invalid(helpers.incremental_update(doc.signed, remove), platform)
    assert "signature_replaced" in {c.kind for c in report.changes}, text
    assert "removed" in text
