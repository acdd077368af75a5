"""accept_for_stamping: what may be stamped outside an envelope, checked in a child process."""

from __future__ import annotations

import pytest

from qianshu.signing.appending import accept_for_stamping, accept_for_stamping_isolated
from qianshu.signing.errors import (
    BrokenSignatureError,
    NotAPdfError,
    PdfTooLargeError,
    SignedActiveContentError,
)
from qianshu.signing.ingest import IngestLimits
from qianshu.signing.isolation import Limits
from qianshu.signing.samples import make_test_pdf
from qianshu.signing.verify import TrustSettings
from tests.support.pdfs import make_pdf_with_javascript, make_signed_pdf

NO_TRUST = TrustSettings(roots=())


def test_an_unsigned_pdf_is_normalised() -> None:
    accepted = accept_for_stamping_isolated(make_pdf_with_javascript(), IngestLimits(), NO_TRUST)
    assert not accepted.already_signed
    assert "javascript" in accepted.removed and "open_action" in accepted.removed


def test_a_clean_signed_pdf_is_kept_byte_for_byte() -> None:
    signed = make_signed_pdf()
    accepted = accept_for_stamping(signed, IngestLimits(), NO_TRUST)
    assert accepted.already_signed and accepted.data == signed


def test_refusals_keep_their_kind_through_the_child() -> None:
    with pytest.raises(SignedActiveContentError) as info:
        accept_for_stamping_isolated(
            make_signed_pdf(make_pdf_with_javascript()), IngestLimits(), NO_TRUST
        )
    assert "javascript" in info.value.found
    with pytest.raises(NotAPdfError):
        accept_for_stamping_isolated(b"MZ" + bytes(200), IngestLimits(), NO_TRUST)
    broken = make_signed_pdf().replace(b"/ByteRange", b"/ByteRangX", 1)
    with pytest.raises(BrokenSignatureError):
        accept_for_stamping_isolated(broken, IngestLimits(), NO_TRUST)


def test_a_child_beyond_its_limits_is_too_large() -> None:
    with pytest.raises(PdfTooLargeError):
        accept_for_stamping_isolated(
            make_test_pdf(), IngestLimits(), NO_TRUST, Limits(wall_seconds=0.001)
        )
