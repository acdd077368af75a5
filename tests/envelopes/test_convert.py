"""Word documents: converted with LibreOffice when it is installed, else a clear message."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from qianshu.envelopes import compose, convert
from qianshu.envelopes.errors import EnvelopeError


def _docx() -> bytes:
    """A minimal but valid Word document (one paragraph)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
            'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="r1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
            "</Relationships>",
        )
        z.writestr(
            "word/document.xml",
            '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
            'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>采购合同</w:t></w:r></w:p>'
            "</w:body></w:document>",
        )
    return out.getvalue()


def test_office_documents_are_recognised() -> None:
    assert convert.is_office_document("合同.docx", b"")
    assert convert.is_office_document("contract", _docx())
    assert not convert.is_office_document("合同.pdf", b"%PDF-1.7")


def test_without_libreoffice_the_message_asks_for_a_pdf(monkeypatch: Any) -> None:
    monkeypatch.setattr(convert, "soffice", lambda: None)
    with pytest.raises(EnvelopeError, match="另存为 PDF"):
        compose.ingest_upload(_docx(), "合同.docx")


def test_a_word_document_becomes_a_pdf() -> None:
    pdf, name = compose.ingest_upload(_docx(), "合同.docx")
    assert pdf.startswith(b"%PDF-") and name == "合同.pdf"


def test_a_broken_word_document_is_refused_clearly(monkeypatch: Any) -> None:
    with pytest.raises(EnvelopeError, match="无法转换"):
        compose.ingest_upload(b"PK\x03\x04 not really a zip", "合同.docx")
