"""DOCX (and other office documents) to PDF with LibreOffice headless, when it is installed.

Each conversion gets its own LibreOffice profile directory: parallel conversions sharing one
profile clobber each other (SIGNING-NOTES "Other parts").
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from django.utils.translation import gettext as _

from qianshu.envelopes.errors import EnvelopeError

log = logging.getLogger(__name__)

OFFICE_SUFFIXES = (".docx", ".doc", ".odt", ".rtf")
TIMEOUT_SECONDS = 90
MAX_INPUT_BYTES = 20 * 1024 * 1024


def is_office_document(name: str, data: bytes) -> bool:
    """A Word/ODF document by name, or a ZIP/OLE container that is not a PDF."""
    if name.lower().endswith(OFFICE_SUFFIXES):
        return True
    return data[:4] in (b"PK\x03\x04", b"\xd0\xcf\x11\xe0") and not name.lower().endswith(".pdf")


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def docx_to_pdf(data: bytes) -> bytes:
    """The document converted to PDF, or :class:`EnvelopeError` with a message for the user."""
    binary = soffice()
    if binary is None:
        raise EnvelopeError(_("本平台未安装文档转换组件，请将 Word 文档另存为 PDF 后上传。"))
    if len(data) > MAX_INPUT_BYTES:
        raise EnvelopeError(_("文件太大：最大 20 MB。"))
    with tempfile.TemporaryDirectory(prefix="qianshu-convert-") as tmp:
        work = Path(tmp)
        source = work / "document.docx"
        source.write_bytes(data)
        command = [
            binary,
            f"-env:UserInstallation=file://{work / 'profile'}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(work / "out"),
            str(source),
        ]
        try:
            subprocess.run(  # noqa: S603 - fixed arguments, no shell
                command, capture_output=True, timeout=TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired:
            raise EnvelopeError(_("文档转换超时，请将其另存为 PDF 后上传。")) from None
        result = work / "out" / "document.pdf"
        if not result.exists():
            log.warning("LibreOffice produced no PDF")
            raise EnvelopeError(_("文档无法转换为 PDF，请检查文件或另存为 PDF 后上传。"))
        return result.read_bytes()
