"""Signatures made by an independent implementation: poppler's pdfsig with an NSS test CA.

The CA and the signer certificate come from NSS ``certutil`` in a temporary database, the
signature (adbe.pkcs7.detached) from ``pdfsig -add-signature``: no Qianshu or pyHanko code is
involved in making the file. Our verifier must find it intact, and trust it exactly when the
CA is configured as an extra root.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.verify import (
    INDETERMINATE,
    INVALID,
    VALID,
    SignatureReport,
    VerificationReport,
    format_report,
    trust_settings,
    verify_pdf,
)
from tests.signing import helpers
from tests.support import pdfsig as pdfsig_support

pytestmark = pytest.mark.skipif(
    not helpers.third_party_tools_available(), reason="needs pdfsig and certutil"
)


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return helpers.make_platform()


@pytest.fixture(scope="module")
def third_party(tmp_path_factory: pytest.TempPathFactory) -> helpers.ThirdPartySigned:
    workdir = tmp_path_factory.mktemp("thirdparty")
    return helpers.sign_with_pdfsig(workdir, helpers.make_pdf(2))


@pytest.fixture(scope="module")
def ca_cert(third_party: helpers.ThirdPartySigned) -> x509.Certificate:
    return x509.load_pem_x509_certificate(third_party.ca_pem)


def _only_signature(report: VerificationReport) -> SignatureReport:
    assert len(report.signatures) == 1, format_report(report)
    return report.signatures[0]


def _assert_lenient_parser_is_reported(report: VerificationReport) -> None:
    # pdfsig's output needs pyHanko's non-strict reader (SIGNING-NOTES "Interoperability").
    if not report.strict_parser:
        assert any("lenient parser" in w for w in report.warnings), format_report(report)
        assert "lenient parser" in format_report(report)


def test_pdfsig_made_a_real_signature(third_party: helpers.ThirdPartySigned) -> None:
    assert third_party.pdf.startswith(third_party.unsigned_pdf)  # an incremental update
    assert b"/adbe.pkcs7.detached" in third_party.pdf
    assert len(helpers.byte_ranges(third_party.pdf)) == 1


@pytest.mark.skipif(not pdfsig_support.available(), reason="needs gcc for the pdfsig shim")
def test_pdfsig_itself_accepts_the_file(
    third_party: helpers.ThirdPartySigned, tmp_path: Path
) -> None:
    pdf = tmp_path / "signed.pdf"
    pdf.write_bytes(third_party.pdf)
    db = pdfsig_support.nss_db(tmp_path, [third_party.ca_pem])
    result = pdfsig_support.run_pdfsig(pdf, db, tmp_path)
    pdfsig_support.assert_all_trusted(result)
    assert result.signatures[0].whole_document, result.output


def test_untrusted_ca_is_indeterminate(
    platform: EphemeralPlatform, third_party: helpers.ThirdPartySigned
) -> None:
    report = verify_pdf(third_party.pdf, platform.trust)
    text = format_report(report)
    assert report.verdict == INDETERMINATE, text
    assert "Verdict: INDETERMINATE" in text
    assert "not trusted" in report.reason
    sig = _only_signature(report)
    assert (sig.intact, sig.valid, sig.trusted) == (True, True, False), text
    assert sig.field_name == "S1"
    assert sig.signer_name == helpers.THIRD_PARTY_SIGNER
    assert sig.coverage == "entire_file"
    assert sig.modification_level == "none"
    _assert_lenient_parser_is_reported(report)


def test_configured_ca_is_valid_and_trusted(
    platform: EphemeralPlatform, third_party: helpers.ThirdPartySigned, ca_cert: x509.Certificate
) -> None:
    trust = trust_settings([platform.pki.root.certificate, ca_cert])
    report = verify_pdf(third_party.pdf, trust)
    text = format_report(report)
    assert report.verdict == VALID, text
    assert "Verdict: VALID" in text
    sig = _only_signature(report)
    assert (sig.verdict, sig.intact, sig.valid, sig.trusted) == (VALID, True, True, True), text
    assert sig.kind == "signature"
    assert sig.organisation == helpers.THIRD_PARTY_ORG
    assert sig.chain == (helpers.THIRD_PARTY_SIGNER, helpers.THIRD_PARTY_CA)
    assert sig.pades_level == "B-B"  # no timestamp: pdfsig does not add one
    assert sig.signing_time_source == "claimed"
    _assert_lenient_parser_is_reported(report)
    if not report.strict_parser:
        assert any("treat with care" in w for w in report.warnings), text


def test_tampered_third_party_file_is_invalid(
    platform: EphemeralPlatform, third_party: helpers.ThirdPartySigned, ca_cert: x509.Certificate
) -> None:
    trust = trust_settings([platform.pki.root.certificate, ca_cert])
    data = third_party.pdf
    offset = data.find(b"pays 100 yuan") + 5
    assert offset > 4
    tampered = data[:offset] + b"9" + data[offset + 1 :]
    report = verify_pdf(tampered, trust)
    assert report.verdict == INVALID, format_report(report)
    assert not _only_signature(report).intact


def test_page_appended_to_third_party_file_is_invalid(
    platform: EphemeralPlatform, third_party: helpers.ThirdPartySigned, ca_cert: x509.Certificate
) -> None:
    trust = trust_settings([platform.pki.root.certificate, ca_cert])
    tampered = helpers.incremental_update(third_party.pdf, helpers.add_page)
    report = verify_pdf(tampered, trust)
    assert report.verdict == INVALID, format_report(report)
    assert _only_signature(report).modification_level == "other"
