"""Archive renewal: fresh validation data and a new document time-stamp, again and again.

Issue 11 item 5: ``finish_document`` named its document time-stamp field always the same, so a
second archive time-stamp failed. Renewed documents must stay B-LTA in our verifier, pass
pyHanko's ETSI EN 319 102-1 long-term validation and stay trusted in pdfsig — also when the
renewal uses a new TSA certificate (a rotated TSA).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESStatus
from pyhanko.sign.validation.ades import ades_lta_validation

from qianshu.signing import archive, documents, pki
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.errors import SignatureError
from qianshu.signing.verify import verify_pdf
from tests.signing import helpers
from tests.support import pdfsig


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return helpers.make_platform()


@pytest.fixture(scope="module")
def completed(platform: EphemeralPlatform) -> bytes:
    signed = helpers.signed_document(platform, finished=False).signed
    return documents.finish_document(
        signed,
        timestamper=platform.new_timestamper(dt.timedelta(days=30)),  # a TSA about to expire
        revocation=platform.revocation,
        trust_roots=platform.trust_roots,
        locker=platform.certifier,
    )


def _renew(platform: EphemeralPlatform, data: bytes, timestamper: object = None) -> bytes:
    return archive.renew_archive(
        data,
        timestamper=timestamper or platform.timestamper,  # type: ignore[arg-type]
        revocation=platform.revocation,
        trust_roots=platform.trust_roots,
    )


@pytest.fixture(scope="module")
def renewed(platform: EphemeralPlatform, completed: bytes) -> list[bytes]:
    once = _renew(platform, completed)
    twice = _renew(platform, once, platform.new_timestamper())
    return [once, twice]


def _timestamp_fields(data: bytes) -> list[str]:
    reader = PdfFileReader(io.BytesIO(data), strict=True)
    return [
        str(s.field_name)
        for s in reader.embedded_signatures
        if s.sig_object_type == "/DocTimeStamp"
    ]


def test_each_renewal_adds_a_time_stamp_in_a_field_of_its_own(
    completed: bytes, renewed: list[bytes]
) -> None:
    assert _timestamp_fields(completed) == ["QS-DocTimeStamp"]
    assert _timestamp_fields(renewed[0]) == ["QS-DocTimeStamp", "QS-DocTimeStamp-2"]
    assert _timestamp_fields(renewed[1]) == [
        "QS-DocTimeStamp",
        "QS-DocTimeStamp-2",
        "QS-DocTimeStamp-3",
    ]
    assert renewed[0].startswith(completed) and renewed[1].startswith(renewed[0])


def test_renewal_control_verifies_as_b_lta_in_our_verifier(
    platform: EphemeralPlatform, renewed: list[bytes]
) -> None:
    """The renewal control: a completed, locked document renewed twice is valid, untouched in
    every signature, B-LTA, and the completion lock still holds (renewal is only LTA updates)."""
    for data in renewed:
        report = verify_pdf(data, platform.trust)
        assert report.verdict == "valid", report.reason
        for sig in report.signatures:
            assert sig.intact and sig.valid and sig.trusted, sig
            if sig.kind != "document_timestamp":
                assert sig.pades_level == "B-LTA" and sig.revocation == "good", sig
        lock = next(s for s in report.signatures if s.field_name == documents.COMPLETION_FIELD)
        assert lock.modification_level == "lta_updates" and lock.docmdp_ok


def test_pyhanko_long_term_validation_passes_after_renewal(
    platform: EphemeralPlatform, renewed: list[bytes]
) -> None:
    for data in renewed:
        reader = PdfFileReader(io.BytesIO(data), strict=True)
        for sig in reader.embedded_signatures:
            if sig.sig_object_type == "/DocTimeStamp":
                continue
            result = asyncio.run(ades_lta_validation(sig, helpers.lta_validation_spec(platform)))
            assert result.ades_subindic.status == AdESStatus.PASSED, (
                f"{sig.field_name}: {result.ades_subindic}"
            )


@pytest.mark.skipif(not pdfsig.available(), reason="poppler-utils / libnss3-tools / gcc missing")
def test_pdfsig_trusts_a_renewed_document(
    platform: EphemeralPlatform, renewed: list[bytes], tmp_path: Path
) -> None:
    db = pdfsig.nss_db(tmp_path, [pki.certificate_pem(platform.pki.root.certificate)])
    pdf = tmp_path / "renewed.pdf"
    pdf.write_bytes(renewed[-1])
    pdfsig.assert_all_trusted(pdfsig.run_pdfsig(pdf, db, tmp_path))


def test_archive_info_names_the_newest_time_stamp(completed: bytes, renewed: list[bytes]) -> None:
    before = archive.archive_info(completed)
    after = archive.archive_info(renewed[0])
    assert before is not None and after is not None
    assert before.tsa_not_after - before.timestamp_time < dt.timedelta(days=31)
    assert after.tsa_not_after - after.timestamp_time > dt.timedelta(days=3000)
    assert after.algorithms == {"sha256", "ec-p256"}
    assert archive.weak_algorithms(after, ["SHA1", "ec-p256"]) == {"ec-p256"}
    assert archive.weak_algorithms(after, ["md5", "sha1"]) == set()
    assert archive.archive_info(helpers.make_pdf()) is None


def test_renewal_needs_a_signed_document(platform: EphemeralPlatform) -> None:
    with pytest.raises(SignatureError):
        _renew(platform, helpers.make_pdf())


def test_a_document_without_a_time_stamp_gets_its_first_one(platform: EphemeralPlatform) -> None:
    signed = helpers.signed_document(platform, finished=False).signed
    renewed = _renew(platform, signed)
    assert _timestamp_fields(renewed) == ["QS-DocTimeStamp"]
    report = verify_pdf(renewed, platform.trust)
    assert report.verdict == "valid", report.reason
    assert report.document_timestamped
