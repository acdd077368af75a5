"""The faster drop-ins (qianshu.signing._speedups, _objectpaths) give pyHanko's own results:
the same value, the stream left at the same position, the same error."""

from __future__ import annotations

import io

import pytest
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic

from qianshu.signing import _speedups

NAMES = [
    b"/Type ",
    b"/Type/Sig",
    b"/Type>>",
    b"/A#20B ",
    b"/A#2",
    b"/caf\xc3\xa9 ",
    b"/\xe9t\xe9 ",
    b"/Lock",
    b"/ ",
    b"/a%comment\n",
    b"/" + b"x" * 200 + b"[",
    b"/Bad\x01Byte ",
]

WHITESPACE = [
    b"   /Key",
    b"\r\n\t\x00\f<<",
    b"% a comment\n  1 0 R",
    b"  % first\n% second\r\n>>",
    b"",
    b"    ",
    b"x",
    b" " * 100 + b"]",
]


def _outcome(call: object, data: bytes, *args: object, **kwargs: object) -> tuple:
    stream = io.BytesIO(data)
    try:
        value = call(stream, *args, **kwargs)  # type: ignore[operator]
    except Exception as exc:  # compared with the original's behaviour
        return ("raises", type(exc).__name__, stream.tell())
    return (value, type(value).__name__, stream.tell())


@pytest.mark.parametrize("data", NAMES)
def test_names_read_as_pyhanko_reads_them(data: bytes) -> None:
    def original(stream: io.BytesIO) -> object:
        assert stream.read(1) == b"/"
        return _speedups._original_decode_name(_speedups._original_read_until_delimiter(stream))

    def fast(stream: io.BytesIO) -> object:
        return generic.NameObject.read_from_stream(stream)

    assert _outcome(fast, data) == _outcome(original, data)


@pytest.mark.parametrize("data", WHITESPACE)
@pytest.mark.parametrize("seek_back", [False, True])
@pytest.mark.parametrize("allow_eof", [False, True])
def test_whitespace_skipped_as_pyhanko_skips_it(
    data: bytes, seek_back: bool, allow_eof: bool
) -> None:
    fast = _outcome(_speedups.read_non_whitespace, data, seek_back, allow_eof)
    original = _outcome(_speedups._original_read_non_whitespace, data, seek_back, allow_eof)
    assert fast == original


def test_name_comparison_is_memoised_by_encoding_only() -> None:
    one = asn1_x509.Name.build({"common_name": "Alice", "organization_name": "Acme"})
    same = asn1_x509.Name.build({"common_name": "alice  ", "organization_name": "ACME"})
    other = asn1_x509.Name.build({"common_name": "Bob", "organization_name": "Acme"})
    for _ in range(2):
        assert one == same  # RFC 5280 comparison: case and spaces folded
        assert one != other
        assert one != "Alice"
