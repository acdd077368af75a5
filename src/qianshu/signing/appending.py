"""Accepting an uploaded PDF that a seal is stamped on outside an envelope (用印).

:func:`accept_for_stamping` returns the bytes to sign on, or raises a :class:`PdfError` saying
why not. Uploads go through :func:`accept_for_stamping_isolated`, which does the same in a child
process with CPU-time and memory limits (:mod:`qianshu.signing.isolation`): everything that
parses the untrusted file happens there, before the signer is asked for anything (the PIN).

* An unsigned PDF is ingested and normalised like any document to be signed
  (:func:`~qianshu.signing.ingest.ingest_pdf`: JavaScript, actions, embedded files, form fields
  … removed).
* An already signed PDF can only be appended to, byte for byte, so nothing in it can be removed.
  It is accepted only if

  - normalisation would remove nothing (``IngestedPdf.kept_active_content`` is empty):
    otherwise JavaScript, actions or attachments would stay live under our seal —
    :class:`SignedActiveContentError`;
  - it carries no certification signature (DocMDP): a new seal field would be a forbidden
    change for it — :class:`CertifiedPdfError`;
  - pyHanko's strict parser reads it, and our verifier finds every signature in it readable,
    intact and cryptographically valid, and the file not changed after them in a way the
    signatures do not allow (nothing after the last revision, no shadowed objects, no filled
    signature field that is not a signature). Trust in the earlier signers is not required: a
    third party's signature is fine — :class:`BrokenSignatureError` (or
    :class:`BrokenPdfError` for a file pyHanko cannot parse strictly);
  - a signature field can be declared on it in an incremental update (a dry run).
"""

from __future__ import annotations

from dataclasses import dataclass

from qianshu.signing import documents
from qianshu.signing.errors import (
    BrokenPdfError,
    BrokenSignatureError,
    CertifiedPdfError,
    LockedPdfError,
    PdfError,
    PdfTooLargeError,
    SignedActiveContentError,
    SigningError,
)
from qianshu.signing.ingest import IngestedPdf, IngestLimits, ingest_pdf
from qianshu.signing.isolation import LimitExceeded, Limits, run_limited
from qianshu.signing.stamps import Rect
from qianshu.signing.verify import INVALID, TrustSettings, verify_pdf

_PROBE_FIELD = "QS-Probe"


def accept_for_stamping(data: bytes, limits: IngestLimits, trust: TrustSettings) -> IngestedPdf:
    """The upload, ready to be stamped (see the module documentation); raises a
    :class:`PdfError` subclass otherwise. ``trust`` only refines the earlier signatures'
    report; untrusted ones are accepted."""
    ingested = ingest_pdf(data, limits)
    if not ingested.already_signed:
        return ingested
    if ingested.kept_active_content:
        raise SignedActiveContentError(
            "the signed PDF carries content that cannot be removed without breaking its "
            "signatures: " + ", ".join(ingested.kept_active_content),
            found=ingested.kept_active_content,
        )
    _check_signatures(ingested.data, trust)
    _probe_appending(ingested)
    return ingested


def _check_signatures(data: bytes, trust: TrustSettings) -> None:
    report = verify_pdf(data, trust)
    if any(s.field_name == documents.COMPLETION_FIELD for s in report.signatures):
        raise LockedPdfError("the document was completed and locked: nothing may be added to it")
    if any(s.kind == "certification" for s in report.signatures):
        raise CertifiedPdfError("the PDF is certified (DocMDP): nothing may be added to it")
    if not report.signatures:
        raise BrokenSignatureError(f"the existing signatures cannot be read: {report.reason}")
    if not report.strict_parser:
        raise BrokenPdfError("the PDF is not well-formed; it cannot be appended to safely")
    broken = [s for s in report.signatures if not (s.intact and s.valid)]
    if broken or report.verdict == INVALID:
        raise BrokenSignatureError(f"an existing signature does not hold: {report.reason}")


def _probe_appending(ingested: IngestedPdf) -> None:
    """Declare a small field on the last page in memory: what stamping will do first."""
    boxes = documents.page_boxes(ingested.data)
    if len(boxes) != ingested.page_count:
        raise BrokenPdfError(
            f"the page tree is inconsistent ({len(boxes)} / {ingested.page_count} pages)"
        )
    box = boxes[-1]
    x, y = (box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2
    probe = documents.FieldSpec(_PROBE_FIELD, len(boxes) - 1, Rect(x - 5, y - 5, x + 5, y + 5))
    documents.declare_fields(ingested.data, [probe])


@dataclass(frozen=True)
class _Refusal:
    """A :class:`PdfError` carried back from the child process (exceptions are not)."""

    error: type[PdfError]
    message: str
    found: tuple[str, ...] = ()

    def exception(self) -> PdfError:
        if self.error is SignedActiveContentError:
            return SignedActiveContentError(self.message, found=self.found)
        return self.error(self.message)


def _accept_in_child(
    data: bytes, limits: IngestLimits, trust: TrustSettings
) -> IngestedPdf | _Refusal:
    try:
        return accept_for_stamping(data, limits, trust)
    except PdfError as exc:
        return _Refusal(type(exc), str(exc), getattr(exc, "found", ()))
    except SigningError as exc:
        return _Refusal(BrokenPdfError, str(exc))


def accept_for_stamping_isolated(
    data: bytes,
    limits: IngestLimits,
    trust: TrustSettings,
    process_limits: Limits | None = None,
) -> IngestedPdf:
    """:func:`accept_for_stamping` in a child process under ``process_limits``. A file that
    exhausts them is :class:`PdfTooLargeError`; any other failure of the child is
    :class:`BrokenPdfError`."""
    try:
        result = run_limited(
            _accept_in_child, data, limits, trust, limits=process_limits or Limits()
        )
    except LimitExceeded as exc:
        raise PdfTooLargeError(f"the PDF needs too much time or memory to check: {exc}") from exc
    except SigningError as exc:
        raise BrokenPdfError(f"the PDF could not be checked: {exc}") from exc
    if isinstance(result, _Refusal):
        raise result.exception()
    return result
