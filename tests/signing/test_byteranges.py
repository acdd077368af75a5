"""The /ByteRange digests of all signatures in one pass (qianshu.signing.byteranges) equal
hashlib over each range and pyHanko's own digest, on a multi-revision file and on tampered
copies of it; ranges the one pass does not handle are left to pyHanko."""

from __future__ import annotations

import hashlib
import io

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.general import byte_range_digest
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from qianshu.signing import byteranges
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.verify import verify_pdf
from tests.signing import helpers


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return EphemeralPlatform()


@pytest.fixture(scope="module")
def finished(platform: EphemeralPlatform) -> bytes:
    doc = helpers.signed_document(platform)
    assert doc.finished is not None
    return doc.finished


def _hashlib(data: bytes, algorithm: str, byte_range: tuple[int, ...]) -> bytes:
    md = hashlib.new(algorithm)
    for i in range(0, len(byte_range), 2):
        md.update(data[byte_range[i] : byte_range[i] + byte_range[i + 1]])
    return md.digest()


def _tampered(data: bytes) -> list[bytes]:
    """A byte changed in the first signature's first range, in the last signature's second
    range, and in both."""
    ranges = helpers.byte_ranges(data)
    early = ranges[0][0] + ranges[0][1] // 2
    late = ranges[-1][2] + ranges[-1][3] // 2
    out = []
    for offsets in ((early,), (late,), (early, late)):
        changed = bytearray(data)
        for offset in offsets:
            changed[offset] ^= 0x01
        out.append(bytes(changed))
    return out


def test_one_pass_equals_hashlib_over_each_range(finished: bytes) -> None:
    ranges = helpers.byte_ranges(finished)
    assert len(ranges) >= 4  # certification, person, seal, document time-stamp
    for data in (finished, *_tampered(finished)):
        requests = [(algorithm, r) for r in reversed(ranges) for algorithm in ("sha256", "sha512")]
        expected = [_hashlib(data, algorithm, r) for algorithm, r in requests]
        assert byteranges.range_digests(data, requests) == expected


def test_prefilled_digests_are_pyhankos(finished: bytes) -> None:
    for data in (finished, *_tampered(finished)):
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        sigs = [
            EmbeddedPdfSignature(reader, field, name)
            for name, _, field in enumerate_sig_fields(reader, filled_status=True)
        ]
        byteranges.prefill(data, sigs)
        for sig in sigs:
            algorithm = sig.external_md_algorithm
            _, theirs = byte_range_digest(io.BytesIO(data), sig.byte_range, algorithm)
            assert sig.external_digests == {algorithm: theirs}


def test_reports_are_those_of_pyhankos_digests(
    platform: EphemeralPlatform, finished: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole report, valid file and tampered copies, with and without the one pass."""
    files = [finished, *_tampered(finished)]
    ours = [verify_pdf(data, platform.trust) for data in files]
    monkeypatch.setattr(byteranges, "prefill", lambda data, signatures: None)
    assert ours == [verify_pdf(data, platform.trust) for data in files]
    assert [r.verdict for r in ours] == ["valid", "invalid", "indeterminate", "indeterminate"]
    assert all(s.intact is False for r in ours[1:] for s in r.signatures)


def test_unusual_ranges_are_left_to_pyhanko() -> None:
    data = bytes(range(256)) * 8
    requests = [
        ("sha256", [0, 10, 20, 30]),
        ("sha256", [5, 10, 20, 30]),  # does not start at 0
        ("sha256", [0, 10, 20]),  # odd length
        ("sha256", [0, 10, -20, 30]),  # negative offset
        ("sha256", [0, 10, 20, 2.5]),  # not an integer
        ("sha256", [0, True, 20, 30]),
        ("no-such-hash", [0, 10, 20, 30]),
        ("sha256", [0, 4000, 1000, 9000]),  # cut off at the end, as pyHanko reads
        ("sha256", [0, 100]),
    ]
    got = byteranges.range_digests(data, requests)
    assert got[1:7] == [None] * 6
    assert got[0] == _hashlib(data, "sha256", (0, 10, 20, 30))
    assert got[7] == _hashlib(data, "sha256", (0, 4000, 1000, 9000))
    assert got[7] == byte_range_digest(io.BytesIO(data), [0, 4000, 1000, 9000], "sha256")[1]
    assert got[8] == hashlib.sha256(data[:100]).digest()
