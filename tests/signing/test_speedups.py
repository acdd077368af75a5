"""The faster drop-ins (qianshu.signing._speedups, _objectpaths) give pyHanko's own results:
the same value, the stream left at the same position, the same error."""

from __future__ import annotations

import io
from pathlib import Path

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


# --- installed by the programs at start-up, not by importing the library ----------------------

_INSTALLED = (
    "import pyhanko.pdf_utils.generic as g; from qianshu.signing import _speedups; "
    "print(g.read_hex_string_from_stream is _speedups.read_hex_string_from_stream)"
)


def _python(code: str, *args: str) -> str:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    assert done.returncode in (0, 1), done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_importing_the_library_patches_nothing() -> None:
    assert _python("import qianshu.signing.verify, qianshu.signing.documents; " + _INSTALLED) == (
        "False"
    )
    installed = _python("import qianshu.signing; qianshu.signing.install_speedups(); " + _INSTALLED)
    assert installed == "True"


def test_django_start_up_and_qianshu_verify_install_them(tmp_path: Path) -> None:
    django = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'tests.settings'; "
    assert _python(django + "django.setup(); " + _INSTALLED) == "True"
    pdf = tmp_path / "unsigned.pdf"
    from qianshu.signing.samples import make_test_pdf

    pdf.write_bytes(make_test_pdf())
    cli = "import sys; from qianshu.verification.cli import main; main(sys.argv[1:]); "
    assert _python(cli + _INSTALLED, str(pdf)) == "True"
