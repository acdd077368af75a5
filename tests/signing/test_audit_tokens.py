"""Stand-alone time-stamp tokens over a digest (the audit trail's anchors) and the evidence
report's attachments: a token checks only for its own digest and only against the platform
root; an attachment comes back byte for byte and a damaged file is a clear error."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from qianshu.signing import fonts
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.errors import PdfError, TimestampError
from qianshu.signing.reports import (
    ReportAttachment,
    read_attachment,
    render_evidence_report,
)
from qianshu.signing.timestamps import check_token, stamp_digest, token_time
from tests.signing.test_reports import make_report


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return EphemeralPlatform(base_url="https://sign.example.edu.cn")


def test_a_token_checks_for_its_digest_and_root_only(platform: EphemeralPlatform) -> None:
    digest = hashlib.sha256(b"chain head").digest()
    token = stamp_digest(platform.tsa, digest)
    assert check_token(token, digest, platform.trust_roots) == token_time(token)
    with pytest.raises(TimestampError, match="does not cover"):
        check_token(token, hashlib.sha256(b"other head").digest(), platform.trust_roots)
    stranger = EphemeralPlatform(base_url="https://elsewhere.example")
    with pytest.raises(TimestampError, match="trusted"):
        check_token(token, digest, stranger.trust_roots)
    flipped = bytearray(token)
    flipped[-10] ^= 0x01  # inside the signature
    with pytest.raises(TimestampError):
        check_token(bytes(flipped), digest, platform.trust_roots)
    for garbage in (b"", b"\x30\x03\x02\x01\x01", token[:100]):
        with pytest.raises(TimestampError):
            check_token(garbage, digest, platform.trust_roots)
    with pytest.raises(TimestampError):
        stamp_digest(platform.tsa, b"short")


needs_font = pytest.mark.skipif(
    not Path(fonts.SANS_REGULAR).is_file(), reason="needs fonts-noto-cjk"
)


@needs_font
def test_report_attachments_round_trip_and_are_printed() -> None:
    payload = b'{"count": 12, "head": "ab"}'
    report = make_report(
        audit_count=12,
        audit_timestamp="2026-12-01 21:53:00",
        attachments=(ReportAttachment("qianshu-audit.json", payload),),
    )
    pdf = render_evidence_report(report)
    assert read_attachment(pdf, "qianshu-audit.json") == payload
    assert read_attachment(pdf, "qianshu-audit.json", isolated=False) == payload
    assert read_attachment(pdf, "other.json") is None


@needs_font
@pytest.mark.parametrize(
    "attachment",
    [
        ReportAttachment("../etc/passwd", b"{}"),
        ReportAttachment("a.json", b"x" * (256 * 1024 + 1)),
        ReportAttachment("a.json", "text"),  # type: ignore[arg-type]
    ],
)
def test_bad_attachments_are_refused(attachment: ReportAttachment) -> None:
    with pytest.raises(PdfError):
        render_evidence_report(make_report(attachments=(attachment,)))
    with pytest.raises(PdfError):
        render_evidence_report(dataclasses.replace(make_report(), audit_count=-1))


def test_a_damaged_file_is_a_pdf_error() -> None:
    with pytest.raises(PdfError):
        read_attachment(b"%PDF-1.7 nothing here", "qianshu-audit.json")
    with pytest.raises(PdfError):
        read_attachment(b"not a pdf", "qianshu-audit.json", isolated=False)
