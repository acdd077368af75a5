"""Reading and incrementally writing PDFs for the signing modules, with our error types.

Every function here turns pyHanko's many exception types into :class:`PdfError` /
:class:`FieldError`, so :mod:`documents` and :mod:`archive` can stay short.
"""

from __future__ import annotations

import io

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps import TimeStamper

from qianshu.signing.errors import PdfError

# Room for the CMS beyond its certificates: signed attributes, the signature and the
# timestamp token's own structure (hex-encoded, so twice the DER size).
_CMS_OVERHEAD = 3072


def read_pdf(data: bytes, *, strict: bool = True) -> PdfFileReader:
    try:
        return PdfFileReader(io.BytesIO(data), strict=strict)
    except Exception as exc:
        raise PdfError(f"cannot read the PDF: {type(exc).__name__}: {exc}") from exc


def open_incremental(data: bytes) -> IncrementalPdfFileWriter:
    try:
        return IncrementalPdfFileWriter(io.BytesIO(data), strict=True)
    except Exception as exc:
        raise PdfError(f"cannot open the PDF for signing: {type(exc).__name__}: {exc}") from exc


def write_incremental(writer: IncrementalPdfFileWriter) -> bytes:
    out = io.BytesIO()
    try:
        writer.write(out)
    except Exception as exc:
        raise PdfError(f"cannot write the PDF: {exc}") from exc
    return out.getvalue()


def signature_fields(data: bytes) -> dict[str, bool]:
    """Names of the signature fields in the PDF, each with whether it is already signed."""
    return signature_fields_of(read_pdf(data))


def signature_fields_of(reader: PdfFileReader) -> dict[str, bool]:
    """:func:`signature_fields` of a PDF already read (e.g. the one an incremental writer
    opened: read once for both)."""
    try:
        return {
            name: value is not None
            for name, value, _ in fields.enumerate_sig_fields(reader, filled_status=None)
        }
    except Exception as exc:
        raise PdfError(f"cannot list signature fields: {exc}") from exc


def contents_size(signer: signers.Signer | None, timestamper: TimeStamper | None) -> int:
    """A tight, fixed /Contents size: pyHanko then skips the dry run that builds the CMS twice,
    and verifiers have less hex to tokenise."""
    der = _CMS_OVERHEAD
    if signer is not None:
        cert = signer.signing_cert
        der += len(cert.dump()) if cert is not None else 2048
        der += sum(len(c.dump()) for c in signer.cert_registry)
        der += getattr(getattr(signer, "key", None), "max_signature_size", 512)
    if timestamper is not None:
        authority = getattr(timestamper, "authority", None)
        der += authority.token_size_hint if authority is not None else 8192
    return 2 * der
