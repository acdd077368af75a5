"""Content-Disposition injection (issue 10, item 9): a document name cannot add parameters or
headers to a download, whatever it contains."""

from __future__ import annotations

import pytest

from qianshu.core.downloads import MAX_FILENAME_CHARS, content_disposition, safe_filename

# The name of the issue: before, the ASCII part of it went unescaped into filename="…" and
# became a second filename* parameter that browsers prefer.
INJECTION = "合同\"; filename*=UTF-8''evil.html; x=\".pdf"


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("contract.pdf", 'attachment; filename="contract.pdf"'),
        ("采购合同.pdf", "attachment; filename*=utf-8''%E9%87%87%E8%B4%AD%E5%90%88%E5%90%8C.pdf"),
        (
            INJECTION,
            "attachment; filename*=utf-8''%E5%90%88%E5%90%8C%27%3B%20filename%2A%3DUTF-8%27%27"
            "evil.html%3B%20x%3D%27.pdf",
        ),
        ('a"; filename="evil.html', "attachment; filename=\"a'; filename='evil.html\""),
        ("a\r\nSet-Cookie: x=1.pdf", 'attachment; filename="aSet-Cookie: x=1.pdf"'),
        ("line\u2028break\x00.pdf", 'attachment; filename="linebreak.pdf"'),
        ("..\\..\\etc/passwd", 'attachment; filename="_.._etc_passwd"'),
        ("invoice\u202efdp.exe", 'attachment; filename="invoicefdp.exe"'),
        ("\r\n\t ", 'attachment; filename="download"'),
    ],
)
def test_hostile_names_give_exact_headers(name: str, header: str) -> None:
    assert content_disposition(name) == header


def test_inline_and_length() -> None:
    assert content_disposition("seal.png", inline=True) == 'inline; filename="seal.png"'
    long = safe_filename("长" * 400 + ".pdf")
    assert len(long) == MAX_FILENAME_CHARS and long.endswith("长.pdf")
