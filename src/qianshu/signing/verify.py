"""Verify any PDF's signatures: ours or third-party, and fail closed.

:func:`verify_pdf` is the one entry point (the command line, the verification page and the
API all call it, in a long-running process or in the limited child of
:func:`verify_pdf_limited`). It never raises and never says "valid" by accident: a parser or
validator error becomes "cannot be validated" (``indeterminate``) for the signature it
concerns, or for the whole file when the file itself cannot be read.

Verdicts, per signature and time-stamp, each computed independently of the others
(:mod:`qianshu.signing.signatures`):

* ``valid`` — intact, cryptographically valid, the certificate chain trusted and not revoked
  at the signature's proof of existence, and later changes within what the signature allows
  (form filling, further signatures, validation data, document time-stamps);
* ``invalid`` — the signed bytes changed, the signature does not verify, the certificate was
  revoked *before* the proof of existence (past-signature validation: a revocation after it
  does not count, see :mod:`qianshu.signing.ltv`), or a later change the signature forbids;
* ``indeterminate`` — cannot be validated: untrusted or incomplete chain, unsupported format,
  weak algorithm, a field whose value is no signature at all.

A signature time-stamp that cannot be relied on is indeterminate in its own entry and only
costs the signature its proof of existence.

The document verdict is the worst of the signature verdicts and of the changes found in later
revisions (:mod:`qianshu.signing.revisions`): anything added after the document was completed
and locked, a new appearance that hides page content after a signature, a signed field
repainted, an object still in use freed — each fails the document (``invalid``) with its own
reason; additions after an unlocked document time-stamp and appearances that only draw over
page content are reported as warnings. Validation data added after the newest document
time-stamp is listed in a warning and never used (:mod:`qianshu.signing.ltv`).

Structural checks come first: bytes after the last ``%%EOF`` or hidden before a repeated one,
objects shadowed for repairing readers, and conflicting hybrid cross-reference data make the
file ``invalid`` or unreadable; a hybrid-reference file that pyHanko's lenient reader reads
consistently is verified, with a warning.

The PAdES level (B-B, B-T, B-LT, B-LTA) is derived from verified data only: a valid signature
time-stamp, revocation data that verifies, a valid document time-stamp covering it.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Sequence
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from qianshu.signing import byteranges, overlap, revisions
from qianshu.signing.errors import SigningError
from qianshu.signing.isolation import Limits, run_limited
from qianshu.signing.ltv import Contexts
from qianshu.signing.modifications import RevisionSteps
from qianshu.signing.signatures import (
    DocumentContext,
    cannot_validate,
    document_timestamp_holds,
    judge_document_timestamp,
    judge_signature,
)
from qianshu.signing.structure import (
    DssMaterial,
    hybrid_conflicts,
    iter_fields,
    revision_ends,
    shadowed_objects,
    still_used,
    tail_is_single_trailer,
)
from qianshu.signing.validation_memo import document_scope
from qianshu.signing.verdicts import (
    INDETERMINATE,
    INVALID,
    VALID,
    ChangeReport,
    SignatureReport,
    TimestampReport,
    TrustSettings,
    VerificationReport,
    worst,
)

__all__ = [
    "INDETERMINATE",
    "INVALID",
    "VALID",
    "ChangeReport",
    "SignatureReport",
    "TimestampReport",
    "TrustSettings",
    "VerificationReport",
    "format_report",
    "trust_settings",
    "verify_pdf",
    "verify_pdf_limited",
]


class _CannotValidate(Exception):
    pass


def verify_pdf(data: bytes, trust: TrustSettings) -> VerificationReport:
    """Verify every signature and document time-stamp in ``data``. Never raises."""
    base: dict[str, Any] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    try:
        with document_scope():
            return _verify(data, trust, base)
    except _CannotValidate as exc:
        return VerificationReport(verdict=INDETERMINATE, reason=str(exc), **base)
    except (MemoryError, RecursionError) as exc:
        return VerificationReport(
            verdict=INDETERMINATE,
            reason=f"cannot be validated: the file is too complex ({type(exc).__name__})",
            **base,
        )
    except Exception as exc:  # noqa: BLE001 - fail closed on anything a parser throws
        return VerificationReport(
            verdict=INDETERMINATE,
            reason=f"cannot be validated: {type(exc).__name__}: {str(exc)[:200]}",
            **base,
        )


def verify_pdf_limited(
    data: bytes, trust: TrustSettings, limits: Limits | None = None
) -> VerificationReport:
    """:func:`verify_pdf` in a child process with CPU and memory limits (for uploads)."""
    try:
        return run_limited(verify_pdf, data, trust, limits=limits or Limits())
    except SigningError as exc:
        return VerificationReport(
            verdict=INDETERMINATE,
            reason=f"cannot be validated: {exc}",
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
        )


def _read(data: bytes) -> tuple[PdfFileReader, bool, list[str]]:
    """A reader: strict when the file allows it, else pyHanko's lenient one (with a warning)."""
    warnings: list[str] = []
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=True)
        if not reader.xrefs.hybrid_xrefs_present:
            return reader, True, warnings
    except Exception as exc:
        if isinstance(exc, MemoryError | RecursionError):
            raise
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
    except Exception as exc:
        raise _CannotValidate(f"the PDF cannot be read: {type(exc).__name__}") from exc
    if reader.xrefs.hybrid_xrefs_present:
        conflicts = hybrid_conflicts(reader)
        if conflicts:
            raise _CannotValidate(
                "cannot be validated (hybrid xref): the cross-reference table and stream "
                "disagree about objects " + ", ".join(str(n) for n in conflicts[:10])
            )
        warnings.append(
            "hybrid-reference file (a cross-reference table and stream): read with the "
            "lenient parser"
        )
    else:
        warnings.append("the file is not well-formed; it was read with the lenient parser")
    return reader, False, warnings


def _filled_signature_fields(reader: PdfFileReader) -> list[tuple[str, Any]]:
    """(name, field dictionary) of every signature field holding a value."""
    try:
        return [
            (str(name), field.get_object() if hasattr(field, "get_object") else field)
            for name, _, field in enumerate_sig_fields(reader, filled_status=True)
        ]
    except Exception:  # noqa: BLE001 - pyHanko gave up on the field tree; walk it ourselves
        return [
            (node.name, node.field)
            for node in iter_fields(reader.root)
            if node.field_type == "/Sig" and "/V" in node.field
        ]


def _embedded(
    reader: PdfFileReader,
) -> tuple[list[tuple[int, EmbeddedPdfSignature]], list[SignatureReport]]:
    """The signatures, numbered in revision order, and a report for each unreadable one."""
    found: list[EmbeddedPdfSignature] = []
    failed: list[tuple[str, Exception]] = []
    for name, field in _filled_signature_fields(reader):
        try:
            sig = EmbeddedPdfSignature(reader, field, name)
            _ = sig.signed_revision
            found.append(sig)
        except Exception as exc:  # noqa: BLE001 - this field only cannot be validated
            failed.append((name, exc))
    found.sort(key=lambda sig: sig.signed_revision)
    broken = [cannot_validate(len(found) + i, name, exc) for i, (name, exc) in enumerate(failed)]
    return list(enumerate(found)), broken


def _structure(
    data: bytes, base: dict[str, Any]
) -> tuple[PdfFileReader, bool, list[str]] | VerificationReport:
    if not data.lstrip()[:1024].startswith(b"%PDF-") and b"%PDF-" not in data[:1024]:
        raise _CannotValidate("cannot be validated: the file is not a PDF")
    last_eof = data.rfind(b"%%EOF")
    if last_eof < 0:
        raise _CannotValidate("cannot be validated: the PDF is truncated (no %%EOF marker)")
    if data[last_eof + 5 :].strip(b"\r\n\t\f\x00 "):
        return VerificationReport(
            verdict=INVALID,
            reason="there is content after the last %%EOF marker: data was appended to the "
            "file, or it is truncated",
            **base,
        )
    reader, strict, warnings = _read(data)
    if not strict:
        shadowed = shadowed_objects(reader, data)
        if shadowed:
            return VerificationReport(
                verdict=INVALID,
                reason="objects are defined again after the definitions the cross-reference "
                "data uses, so viewers may show other content than was signed (objects "
                + ", ".join(str(n) for n in shadowed[:10])
                + ")",
                warnings=tuple(warnings),
                strict_parser=strict,
                **base,
            )
    if not tail_is_single_trailer(reader, data):
        return VerificationReport(
            verdict=INVALID,
            reason="data was hidden after the last revision (a repeated startxref / %%EOF)",
            strict_parser=strict,
            **base,
        )
    return reader, strict, warnings


async def _evidence(
    reader: PdfFileReader, embedded: list[tuple[int, EmbeddedPdfSignature]], trust: TrustSettings
) -> tuple[int | None, DssMaterial, DssMaterial]:
    """The revision of the newest intact, trusted document time-stamp, the DSS it covers,
    and the validation material added after it."""
    latest = DssMaterial.read(reader)
    first_look = Contexts(trust, DssMaterial(certs=latest.certs))
    for _, sig in reversed(embedded):
        if sig.sig_object_type != "/DocTimeStamp":
            continue
        if await document_timestamp_holds(sig, first_look):
            revision = sig.signed_revision
            covered = DssMaterial.read(reader.get_historical_resolver(revision))
            return revision, covered, latest.minus(covered)
    return None, DssMaterial(), latest


async def _judge_all(
    embedded: list[tuple[int, EmbeddedPdfSignature]], doc: DocumentContext
) -> list[SignatureReport]:
    reports: list[SignatureReport] = []
    # Newest document time-stamp first: each one's proof of existence is the next one.
    moment = None
    for index, sig in reversed(embedded):
        if sig.sig_object_type != "/DocTimeStamp":
            continue
        try:
            report = await judge_document_timestamp(index, sig, doc, moment)
        except Exception as exc:  # noqa: BLE001 - this time-stamp only
            report = cannot_validate(index, str(sig.field_name), exc)
        reports.append(report)
        if report.verdict == VALID and report.signing_time is not None:
            doc.archive_times.insert(0, (sig.signed_revision, report.signing_time))
            moment = report.signing_time
    for index, sig in embedded:
        if sig.sig_object_type == "/DocTimeStamp":
            continue
        try:
            reports.append(await judge_signature(index, sig, doc))
        except Exception as exc:  # noqa: BLE001 - this signature only
            reports.append(cannot_validate(index, str(sig.field_name), exc))
    return reports


def _changes(
    data: bytes, reader: PdfFileReader, embedded: list[tuple[int, EmbeddedPdfSignature]]
) -> tuple[list[ChangeReport], int | None]:
    """Forbidden changes in later revisions, and the revision that completed the document."""
    if not embedded:
        return [], None
    first = min(sig.signed_revision for _, sig in embedded)
    ends = revision_ends(reader, data)
    xrefs = reader.xrefs

    def changed(revision: int) -> set[tuple[int, int]]:
        return {(r.idnum, r.generation) for r in xrefs.explicit_refs_in_revision(revision)}

    def covers(revision: int, widget: revisions.Widget) -> overlap.Coverage | None:
        assert widget.page is not None
        return overlap.covered_content(
            data[: ends[revision - 1]], data[: ends[revision]], widget.page, widget.rect
        )

    try:
        found = _freed_in_use(reader, first)
        inventories = revisions.inventories(reader, first)
        found += revisions.findings(inventories, changed, first, covers)
        return found, revisions.completion_revision(inventories)
    except Exception as exc:  # noqa: BLE001 - the revisions cannot be compared: say so
        cannot = ChangeReport(
            -1,
            INDETERMINATE,
            "unreadable_revisions",
            f"the later revisions cannot be analysed: {type(exc).__name__}",
        )
        return [cannot], None


async def _judge_document(
    reader: PdfFileReader, embedded: list[tuple[int, EmbeddedPdfSignature]], trust: TrustSettings
) -> tuple[int | None, list[SignatureReport], DssMaterial]:
    covered_revision, covered, uncovered = await _evidence(reader, embedded, trust)
    doc = DocumentContext(
        reader=reader,
        contexts=Contexts(trust, covered),
        diff_policy=RevisionSteps(reader),
        uncovered=uncovered,
        signature_fields=frozenset(
            node.name for node in iter_fields(reader.root) if node.field_type == "/Sig"
        ),
    )
    return covered_revision, await _judge_all(embedded, doc), uncovered


def _freed_in_use(reader: PdfFileReader, first: int) -> list[ChangeReport]:
    """Objects freed in a later revision although the document still uses them: what was
    signed (a page's content, say) no longer shows."""
    xrefs = reader.xrefs
    reports = []
    for revision in range(first + 1, xrefs.total_revisions):
        freed = {(r.idnum, r.generation) for r in xrefs.refs_freed_in_revision(revision)}
        if not freed:
            continue
        used = still_used(reader.get_historical_resolver(revision), freed)
        if used:
            reports.append(
                ChangeReport(
                    revision,
                    INVALID,
                    "deleted_content",
                    f"revision {revision} deletes objects the document still uses (objects "
                    + ", ".join(str(n) for n in sorted(used)[:10])
                    + "): the pages no longer show what was signed",
                )
            )
    return reports


def _verify(data: bytes, trust: TrustSettings, base: dict[str, Any]) -> VerificationReport:
    checked = _structure(data, base)
    if isinstance(checked, VerificationReport):
        return checked
    reader, strict, warnings = checked
    embedded, broken = _embedded(reader)
    byteranges.prefill(data, (sig for _, sig in embedded))
    common = {"strict_parser": strict, "revisions": reader.xrefs.total_revisions, **base}
    if not embedded and not broken:
        return VerificationReport(
            verdict=INDETERMINATE,
            reason="the document has no signatures",
            warnings=tuple(warnings),
            **common,
        )
    covered_revision, reports, uncovered = asyncio.run(_judge_document(reader, embedded, trust))
    if uncovered:
        warnings.append(
            "validation data added after the last document time-stamp is not protected by "
            f"it and was not used for the verdict ({uncovered.describe()})"
        )
    reports += broken
    for report in reports:
        if report.timestamp is not None and report.timestamp.verdict != VALID:
            warnings.append(
                f"the time-stamp of signature {report.index + 1} ({report.field_name}) cannot "
                "be relied on: " + "; ".join(report.timestamp.problems)
            )
    reports.sort(key=lambda r: r.index)
    changes, completed = _changes(data, reader, embedded)
    warnings += [c.description for c in changes if c.verdict == VALID]
    verdict = worst(*(r.verdict for r in reports), *(c.verdict for c in changes))
    if not strict and verdict == VALID:
        warnings.append("validated with the lenient parser: treat with care")
    return VerificationReport(
        verdict=verdict,
        reason=_reason(verdict, reports, changes),
        signatures=tuple(reports),
        changes=tuple(changes),
        warnings=tuple(warnings),
        document_timestamped=covered_revision is not None,
        completed_revision=completed,
        **common,
    )


def _reason(verdict: str, reports: list[SignatureReport], changes: list[ChangeReport]) -> str:
    if verdict == VALID:
        return f"all {len(reports)} signatures are valid"
    bad_change = next((c for c in changes if c.verdict == verdict), None)
    bad_sig = next((r for r in reports if r.verdict == verdict), None)
    if bad_change is not None and (bad_sig is None or verdict == INVALID):
        return bad_change.description
    assert bad_sig is not None
    return f"signature {bad_sig.index + 1} ({bad_sig.field_name}): " + "; ".join(bad_sig.problems)


def format_report(report: VerificationReport) -> str:
    """Human-readable text for the command line."""
    lines = [
        f"Verdict: {report.verdict.upper()} — {report.reason}",
        f"File: {report.size} bytes, SHA-256 {report.sha256}",
    ]
    lines += [f"Warning: {w}" for w in report.warnings]
    for change in report.changes:
        if change.verdict != VALID:  # the others are among the warnings
            lines.append(f"Change in revision {change.revision}: {change.description}")
    for sig in report.signatures:
        lines.append("")
        lines.append(f"#{sig.index + 1} {sig.kind} in field {sig.field_name!r}: {sig.verdict}")
        who = sig.signer_name + (f" / {sig.organisation}" if sig.organisation else "")
        if sig.organisation_id:
            who += f" ({sig.organisation_id})"
        if who:
            lines.append(f"  Signer: {who}")
        if sig.chain:
            lines.append(f"  Chain: {' -> '.join(sig.chain)}")
        if sig.signing_time:
            lines.append(f"  Time: {sig.signing_time.isoformat()} ({sig.signing_time_source})")
        if sig.timestamp:
            ts = sig.timestamp
            when = ts.time.isoformat() if ts.time else "?"
            lines.append(f"  Timestamp: {when} by {ts.tsa or '?'} ({ts.verdict})")
        if sig.proof_of_existence:
            lines.append(
                f"  Proof of existence: {sig.proof_of_existence.isoformat()} "
                f"({sig.proof_of_existence_source.replace('_', ' ')})"
            )
        lines.append(
            f"  Intact: {sig.intact}  Valid: {sig.valid}  Trusted: {sig.trusted}  "
            f"Revocation: {sig.revocation}"
        )
        lines.append(
            f"  Coverage: {sig.coverage or '-'}  Modifications: {sig.modification_level or '-'}"
            f"  LTV: {sig.ltv}  Level: {sig.pades_level or '-'}"
        )
        if sig.changed_form_fields:
            lines.append(f"  Fields filled after it: {', '.join(sig.changed_form_fields)}")
        lines += [f"  Problem: {p}" for p in sig.problems]
        lines += [f"  Warning: {w}" for w in sig.warnings]
    return "\n".join(lines)


def trust_settings(roots: Sequence[Any]) -> TrustSettings:
    """Build :class:`TrustSettings` from ``cryptography`` or ``asn1crypto`` certificates."""
    converted = []
    for root in roots:
        if isinstance(root, asn1_x509.Certificate):
            converted.append(root)
        else:
            from cryptography.hazmat.primitives.serialization import Encoding

            converted.append(asn1_x509.Certificate.load(root.public_bytes(Encoding.DER)))
    return TrustSettings(roots=tuple(converted))
