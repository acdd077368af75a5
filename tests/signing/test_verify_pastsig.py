"""Issue 11, item 2: past-signature validation and which validation data counts.

Signatures here are time-stamped 40 minutes ago by the platform TSA with its clock set back
(``trust_files``); revocations and expiries are dated before or after that.
"""

from __future__ import annotations

import pytest

from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.verify import (
    INVALID,
    VALID,
    SignatureReport,
    VerificationReport,
    format_report,
    verify_pdf,
)
from tests.signing import helpers
from tests.signing.corpus import trust_files


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return EphemeralPlatform()


def _alice(report: VerificationReport) -> SignatureReport:
    return next(s for s in report.signatures if s.field_name == helpers.PERSON_FIELD)


def test_revocation_after_the_proof_of_existence_keeps_the_signature_valid(
    platform: EphemeralPlatform,
) -> None:
    report = verify_pdf(trust_files.revoked_after_poe(platform), platform.trust)
    alice = _alice(report)
    assert report.verdict == VALID, format_report(report)
    assert alice.revocation == "revoked_after_poe"
    assert alice.proof_of_existence_source == "signature_timestamp"
    assert alice.revocation_time and alice.proof_of_existence
    assert alice.revocation_time > alice.proof_of_existence
    assert alice.pades_level == "B-LTA" and alice.ltv
    assert any("stays valid" in w for w in alice.warnings)


def test_revocation_before_the_proof_of_existence_is_invalid(
    platform: EphemeralPlatform,
) -> None:
    report = verify_pdf(trust_files.revoked_before_poe(platform), platform.trust)
    alice = _alice(report)
    assert report.verdict == INVALID, format_report(report)
    assert alice.verdict == INVALID and alice.revocation == "revoked"
    assert "before the signature's proof of existence" in report.reason
    # The other signatures are judged on their own.
    assert {s.verdict for s in report.signatures if s is not alice} == {VALID}


def test_certificate_expired_after_the_proof_of_existence(platform: EphemeralPlatform) -> None:
    report = verify_pdf(trust_files.expired_after_poe(platform), platform.trust)
    assert report.verdict == VALID, format_report(report)
    assert _alice(report).pades_level == "B-LTA"


def test_validation_data_counts_as_of_its_document_time_stamp(
    platform: EphemeralPlatform,
) -> None:
    """Revocation data valid for five minutes, 35 minutes ago: stale now, fresh then.

    Before: validated "now", the verifier said indeterminate ("CRL is not recent enough")
    for every finished document older than a day.
    """
    report = verify_pdf(trust_files.stale_validation_data(platform), platform.trust)
    assert report.verdict == VALID, format_report(report)
    for sig in report.signatures:
        if sig.kind == "document_timestamp":
            assert sig.revocation == "not_checked"  # nothing fresh to check it against today
        else:
            assert (sig.revocation, sig.pades_level) == ("good", "B-LTA"), sig


def test_unprotected_revocation_data_does_not_downgrade(platform: EphemeralPlatform) -> None:
    report = verify_pdf(trust_files.unprotected_dss_revoked(platform), platform.trust)
    assert report.verdict == VALID, format_report(report)
    assert _alice(report).revocation == "good" and _alice(report).pades_level == "B-LTA"
    assert any("not protected" in w and "2 OCSP responses" in w for w in report.warnings)


def test_unprotected_revocation_data_does_not_upgrade(platform: EphemeralPlatform) -> None:
    report = verify_pdf(trust_files.unprotected_dss_no_upgrade(platform), platform.trust)
    assert report.verdict == INVALID, format_report(report)
    assert _alice(report).revocation == "revoked"


def test_forged_ocsp_never_earns_long_term_labels(platform: EphemeralPlatform) -> None:
    """Before: any "good" response for the serial counted, and the label said B-LTA."""
    report = verify_pdf(trust_files.forged_ocsp_under_doc_timestamp(platform), platform.trust)
    alice = _alice(report)
    assert report.verdict == VALID, format_report(report)
    assert (alice.pades_level, alice.ltv, alice.revocation) == ("B-T", False, "unknown")
    assert any("cannot be verified" in w for w in alice.warnings)


def test_b_t_without_validation_data_is_not_checked(platform: EphemeralPlatform) -> None:
    doc = helpers.signed_document(platform, finished=False)
    report = verify_pdf(doc.signed, platform.trust)
    assert report.verdict == VALID
    assert {(s.revocation, s.pades_level) for s in report.signatures} == {("not_checked", "B-T")}
    assert not report.document_timestamped


def test_document_time_stamp_is_the_proof_of_existence_without_a_signature_time_stamp(
    platform: EphemeralPlatform,
) -> None:
    doc = helpers.signed_document(platform, timestamps=False, finished=False)
    report = verify_pdf(trust_files.finish_by_hand(platform, doc.signed), platform.trust)
    alice = _alice(report)
    assert report.verdict == VALID, format_report(report)
    assert alice.proof_of_existence_source == "document_timestamp"
    assert alice.pades_level == "B-B"  # no signature time-stamp, so no B-T and up


def test_renewed_archive_is_judged_along_the_time_stamp_chain(
    platform: EphemeralPlatform,
) -> None:
    report = verify_pdf(trust_files.renewed_archive(platform), platform.trust)
    assert report.verdict == VALID, format_report(report)
    first, second = [s for s in report.signatures if s.kind == "document_timestamp"]
    assert first.proof_of_existence == second.signing_time  # the next time-stamp proves it
    assert second.proof_of_existence is None  # the newest is judged now
