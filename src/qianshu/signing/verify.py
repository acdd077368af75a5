"""Verify any PDF's signatures: ours or third-party, and fail closed.

:func:`verify_pdf` never raises and never says "valid" by accident: any parser or validator
error becomes the verdict ``indeterminate`` ("cannot be validated") with the reason. Bytes after
the last ``%%EOF`` make a file ``invalid`` (pyHanko itself ignores them, and one public
incremental-saving attack hides its content there).

Verdicts, per signature and overall (the worst of the signatures):

* ``valid`` — intact, cryptographically valid, trusted chain, not revoked, and later changes
  stay within what the signature allows (form filling / signing / validation data);
* ``invalid`` — the signed bytes changed, the signature does not verify, the certificate was
  revoked, or the document was changed in a way the signature forbids;
* ``indeterminate`` — cannot be validated: untrusted or incomplete chain, unreadable file,
  unsupported structure (e.g. hybrid cross-reference files), weak algorithms.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import pdf_embedded
from pyhanko.sign.validation.status import (
    DocumentTimestampStatus,
    PdfSignatureStatus,
    SignatureCoverageLevel,
    SignatureStatus,
)
from pyhanko_certvalidator import ValidationContext

from qianshu.signing.errors import SigningError
from qianshu.signing.isolation import Limits, run_limited
from qianshu.signing.structure import (
    DssMaterial,
    changed_fields,
    field_states,
    shadowed_objects,
    tail_is_single_trailer,
)

VALID, INVALID, INDETERMINATE = "valid", "invalid", "indeterminate"
_WEAK_DIGESTS = {"sha1", "md5", "md2"}
_RANK = {VALID: 0, INDETERMINATE: 1, INVALID: 2}
_MOD_LEVELS = {
    ModificationLevel.NONE: "none",
    ModificationLevel.LTA_UPDATES: "lta_updates",
    ModificationLevel.FORM_FILLING: "form_filling",
    ModificationLevel.ANNOTATIONS: "annotations",
    ModificationLevel.OTHER: "other",
}
_COVERAGE = {
    SignatureCoverageLevel.ENTIRE_FILE: "entire_file",
    SignatureCoverageLevel.ENTIRE_REVISION: "entire_revision",
    SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START: "partial",
    SignatureCoverageLevel.UNCLEAR: "unclear",
}
_ORG_ID_OID = "2.5.4.97"


@dataclass(frozen=True)
class TimestampReport:
    time: dt.datetime
    tsa: str
    intact: bool
    valid: bool
    trusted: bool


@dataclass(frozen=True)
class SignatureReport:
    """What we know about one signature or document timestamp."""

    index: int
    field_name: str
    kind: str  # "signature" | "certification" | "document_timestamp"
    verdict: str
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    signer_name: str = ""
    organisation: str = ""
    organisation_id: str = ""
    certificate_serial: str = ""
    certificate_sha256: str = ""
    chain: tuple[str, ...] = ()
    intact: bool = False
    valid: bool = False
    trusted: bool = False
    revocation: str = "not_checked"  # good | revoked | unknown | not_checked
    signing_time: dt.datetime | None = None
    signing_time_source: str = ""  # timestamp | claimed
    timestamp: TimestampReport | None = None
    coverage: str = ""
    modification_level: str = ""
    docmdp_ok: bool | None = None
    changed_form_fields: tuple[str, ...] = ()
    ltv: bool = False
    pades_level: str = ""
    reason: str = ""
    location: str = ""


@dataclass(frozen=True)
class VerificationReport:
    verdict: str
    reason: str
    sha256: str
    size: int
    signatures: tuple[SignatureReport, ...] = ()
    warnings: tuple[str, ...] = ()
    strict_parser: bool = True
    document_timestamped: bool = False

    def to_dict(self) -> dict[str, Any]:
        def convert(value: Any) -> Any:
            if isinstance(value, dt.datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: convert(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [convert(v) for v in value]
            return value

        result: dict[str, Any] = convert(asdict(self))
        return result


@dataclass(frozen=True)
class TrustSettings:
    """Which roots the verifier trusts: the platform root plus configured extra roots."""

    roots: tuple[asn1_x509.Certificate, ...]
    labels: dict[str, str] = field(default_factory=dict)


def _name_attr(name: asn1_x509.Name, key: str) -> str:
    value = name.native.get(key)
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    return str(value or "")


def _org_id(name: asn1_x509.Name) -> str:
    for rdn in name.chosen:
        for attr in rdn:
            if attr["type"].dotted == _ORG_ID_OID:
                value = attr["value"].native
                return str(value).removeprefix("NTRCN-")
    return ""


def _signer_fields(cert: asn1_x509.Certificate) -> dict[str, Any]:
    subject = cert.subject
    return {
        "signer_name": _name_attr(subject, "common_name"),
        "organisation": _name_attr(subject, "organization_name"),
        "organisation_id": _org_id(subject),
        "certificate_serial": format(cert.serial_number, "X"),
        "certificate_sha256": cert.sha256.hex(),
    }


def _display_name(cert: asn1_x509.Certificate) -> str:
    return _name_attr(cert.subject, "common_name") or cert.subject.human_friendly


def _chain_names(status: SignatureStatus) -> tuple[str, ...]:
    """Subject names from the signer up to the trust root (just the signer if untrusted)."""
    path = getattr(status, "validation_path", None)
    if path is None:
        return (_display_name(status.signing_cert),)
    try:
        names = [_display_name(c) for c in path.iter_certs(include_root=True)]
    except Exception:  # noqa: BLE001 - a display detail must not break verification
        return (_display_name(status.signing_cert),)
    return tuple(reversed(names))


def _readers(data: bytes) -> tuple[PdfFileReader, bool]:
    try:
        return PdfFileReader(io.BytesIO(data), strict=True), True
    except Exception as strict_exc:
        if "hybrid" in str(strict_exc).lower():
            raise _CannotValidate(
                "cannot be validated (hybrid xref): the file mixes cross-reference styles"
            ) from strict_exc
        try:
            return PdfFileReader(io.BytesIO(data), strict=False), False
        except Exception as exc:
            raise _CannotValidate(f"the PDF cannot be read: {type(exc).__name__}") from exc


class _CannotValidate(Exception):
    pass


def _validation_context(
    trust: TrustSettings, dss: DssMaterial, moment: dt.datetime | None = None
) -> ValidationContext:
    return ValidationContext(
        trust_roots=list(trust.roots),
        other_certs=list(dss.certs),
        ocsps=list(dss.ocsps),
        crls=list(dss.crls),
        allow_fetching=False,
        revocation_mode="soft-fail",
        retroactive_revinfo=True,
        moment=moment,
    )


def _revocation_state(status: SignatureStatus, covered: bool) -> str:
    if status.revoked:
        return "revoked"
    # "good" only when validation data in the file covers the certificate: with soft-fail
    # checking and nothing embedded, nothing was actually looked up.
    if status.trusted and covered:
        return "good"
    return "not_checked" if status.trusted else "unknown"


@dataclass(frozen=True)
class _Document:
    """What every signature's check of one document shares."""

    reader: PdfFileReader
    trust: TrustSettings
    vc: ValidationContext
    dss: DssMaterial
    signature_fields: frozenset[str]
    covered_serials: frozenset[int]
    last_doc_ts_revision: int | None
    current_fields: dict[str, tuple[Any, Any]]


def _really_changed(doc: _Document, embedded: pdf_embedded.EmbeddedPdfSignature) -> set[str]:
    before = field_states(doc.reader.get_historical_root(embedded.signed_revision))
    return changed_fields(before, doc.current_fields)


async def _signature_report(
    index: int, embedded: pdf_embedded.EmbeddedPdfSignature, doc: _Document
) -> SignatureReport:
    trust, vc, dss = doc.trust, doc.vc, doc.dss
    last_doc_ts_revision = doc.last_doc_ts_revision
    is_timestamp = embedded.sig_object_type == "/DocTimeStamp"
    status: PdfSignatureStatus | DocumentTimestampStatus
    if is_timestamp:
        status = await pdf_embedded.async_validate_pdf_timestamp(embedded, vc)
        kind = "document_timestamp"
    else:
        status = await pdf_embedded.async_validate_pdf_signature(embedded, vc, vc)
        kind = "certification" if embedded.docmdp_level is not None else "signature"
    timestamp = None
    signing_time = None
    time_source = ""
    if isinstance(status, DocumentTimestampStatus):
        signing_time, time_source = status.timestamp, "timestamp"
    else:
        ts = status.timestamp_validity
        if ts is not None:
            timestamp = TimestampReport(
                time=ts.timestamp,
                tsa=_display_name(ts.signing_cert),
                intact=ts.intact,
                valid=ts.valid,
                trusted=ts.trusted,
            )
            signing_time, time_source = ts.timestamp, "timestamp"
        elif status.signer_reported_dt is not None:
            signing_time, time_source = status.signer_reported_dt, "claimed"
    expired_only = (
        not status.trusted
        and not status.revoked
        and timestamp is not None
        and timestamp.valid
        and timestamp.trusted
        and status.signing_cert.not_valid_after < dt.datetime.now(dt.UTC)
        and last_doc_ts_revision is not None
    )
    if expired_only and not is_timestamp:
        # Long-term validation: the certificate has expired since, but the signature timestamp
        # proves the signature existed while it was valid, and the document timestamp protects
        # the embedded validation data. Validate at the time the timestamp proves.
        vc_past = _validation_context(trust, dss, moment=timestamp.time)  # type: ignore[union-attr]
        status = await pdf_embedded.async_validate_pdf_signature(embedded, vc_past, vc)
    problems: list[str] = []
    warnings: list[str] = []
    verdict = VALID
    weak = status.md_algorithm.lower() in _WEAK_DIGESTS
    if not status.intact:
        problems.append("the signed content was changed (digest mismatch)")
        verdict = INVALID
    elif weak:
        # pyHanko's default policy refuses these algorithms: the signature may well be
        # genuine, but it cannot be relied on any more.
        problems.append(
            f"the signature uses {status.md_algorithm.upper()}, a digest algorithm that is no "
            "longer accepted"
        )
        verdict = INDETERMINATE
    elif not status.valid:
        problems.append("the cryptographic signature does not verify")
        verdict = INVALID
    if status.revoked:
        problems.append("the signer's certificate was revoked")
        verdict = INVALID
    elif not status.trusted and verdict == VALID:
        indic = status.trust_problem_indic
        problems.append(
            "the signer's certificate chain is not trusted"
            + (f" ({indic.standard_name.lower()})" if indic is not None else "")
        )
        verdict = max(verdict, INDETERMINATE, key=_RANK.__getitem__)
    if timestamp is not None and not (timestamp.intact and timestamp.valid):
        problems.append("the signature timestamp is invalid")
        verdict = INVALID
    elif timestamp is not None and not timestamp.trusted:
        problems.append("the signature timestamp's TSA is not trusted")
        verdict = max(verdict, INDETERMINATE, key=_RANK.__getitem__)
    coverage = _COVERAGE.get(status.coverage, "unclear") if status.coverage else "unclear"
    level = status.modification_level
    level_name = _MOD_LEVELS.get(level, "other") if level is not None else "unknown"
    changed: tuple[str, ...] = ()
    diff = status.diff_result
    if diff is not None and hasattr(diff, "changed_form_fields"):
        # pyHanko lists the fields that were allowed to change; keep the ones that did.
        really = _really_changed(doc, embedded)
        changed = tuple(
            sorted(
                name
                for name in diff.changed_form_fields
                if name in really or name in doc.signature_fields
            )
        )
    elif diff is not None:
        problems.append(f"suspicious change after signing: {diff}")
    if coverage not in ("entire_file", "entire_revision"):
        problems.append("the signature does not cover its whole revision")
        verdict = INVALID
    if level is None or level == ModificationLevel.OTHER or level == ModificationLevel.ANNOTATIONS:
        problems.append(f"the document was modified after signing ({level_name})")
        verdict = INVALID
    if status.docmdp_ok is False:
        problems.append("changes after signing exceed what the certification allows")
        verdict = INVALID
    other_changes = [name for name in changed if name not in doc.signature_fields]
    if other_changes:
        warnings.append("form fields changed after this signature: " + ", ".join(other_changes))
    ltv = status.signing_cert.serial_number in doc.covered_serials
    if is_timestamp:
        pades = ""
    elif timestamp is None:
        pades = "B-B"
    elif not ltv:
        pades = "B-T"
    elif last_doc_ts_revision is not None and last_doc_ts_revision > embedded.signed_revision:
        pades = "B-LTA"
    else:
        pades = "B-LT"
    sig_obj = embedded.sig_object
    return SignatureReport(
        index=index,
        field_name=str(embedded.field_name or ""),
        kind=kind,
        verdict=verdict,
        problems=tuple(problems),
        warnings=tuple(warnings),
        chain=_chain_names(status),
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        revocation=_revocation_state(status, ltv),
        signing_time=signing_time,
        signing_time_source=time_source,
        timestamp=timestamp,
        coverage=coverage,
        modification_level=level_name,
        docmdp_ok=status.docmdp_ok,
        changed_form_fields=changed,
        ltv=ltv,
        pades_level=pades,
        reason=str(sig_obj.get("/Reason", "") or ""),
        location=str(sig_obj.get("/Location", "") or ""),
        **_signer_fields(status.signing_cert),
    )


def verify_pdf(data: bytes, trust: TrustSettings) -> VerificationReport:
    """Verify every signature and document timestamp in ``data``. Never raises."""
    sha256 = hashlib.sha256(data).hexdigest()
    base = {"sha256": sha256, "size": len(data)}
    try:
        return _verify(data, trust, base)
    except _CannotValidate as exc:
        return VerificationReport(verdict=INDETERMINATE, reason=str(exc), **base)  # type: ignore[arg-type]
    except (MemoryError, RecursionError) as exc:
        return VerificationReport(
            verdict=INDETERMINATE,
            reason=f"cannot be validated: the file is too complex ({type(exc).__name__})",
            **base,  # type: ignore[arg-type]
        )
    except Exception as exc:  # noqa: BLE001 - fail closed on anything a parser throws
        return VerificationReport(
            verdict=INDETERMINATE,
            reason=f"cannot be validated: {type(exc).__name__}: {str(exc)[:200]}",
            **base,  # type: ignore[arg-type]
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


def _verify(data: bytes, trust: TrustSettings, base: dict[str, Any]) -> VerificationReport:
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
    reader, strict = _readers(data)
    warnings: list[str] = []
    if not strict:
        warnings.append("the file is not well-formed; it was read with the lenient parser")
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
    embedded = list(reader.embedded_signatures)
    if not embedded:
        return VerificationReport(
            verdict=INDETERMINATE,
            reason="the document has no signatures",
            warnings=tuple(warnings),
            strict_parser=strict,
            **base,
        )
    doc_ts_revisions = [s.signed_revision for s in embedded if s.sig_object_type == "/DocTimeStamp"]
    last_doc_ts = max(doc_ts_revisions) if doc_ts_revisions else None
    # pyHanko skips filled signature fields it cannot interpret (no or unknown /SubFilter):
    # a value in a signature field that is not a verifiable signature is a forgery attempt.
    filled = {str(name) for name, _, _ in enumerate_sig_fields(reader, filled_status=True)}
    unverifiable = sorted(filled - {str(sig.field_name) for sig in embedded})
    if unverifiable:
        return VerificationReport(
            verdict=INVALID,
            reason="signature fields hold a value that is not a verifiable signature: "
            + ", ".join(unverifiable),
            warnings=tuple(warnings),
            strict_parser=strict,
            **base,
        )
    dss = DssMaterial.read(reader)
    doc = _Document(
        reader=reader,
        trust=trust,
        # One validation context for the whole document: certificate paths and revocation
        # checks shared by several signatures are computed once.
        vc=_validation_context(trust, dss),
        dss=dss,
        signature_fields=frozenset(
            str(name) for name, _, _ in enumerate_sig_fields(reader, filled_status=None)
        ),
        covered_serials=frozenset(dss.covered_serials()),
        last_doc_ts_revision=last_doc_ts,
        current_fields=field_states(reader.root),
    )

    async def validate_all() -> tuple[SignatureReport, ...]:
        return tuple([await _signature_report(i, sig, doc) for i, sig in enumerate(embedded)])

    reports = asyncio.run(validate_all())
    worst = max((r.verdict for r in reports), key=_RANK.__getitem__)
    if worst == VALID:
        reason = f"all {len(reports)} signatures are valid"
    else:
        bad = next(r for r in reports if r.verdict == worst)
        reason = f"signature {bad.index + 1} ({bad.field_name}): " + "; ".join(bad.problems)
    if not strict and worst == VALID:
        warnings.append("validated with the lenient parser: treat with care")
    return VerificationReport(
        verdict=worst,
        reason=reason,
        signatures=reports,
        warnings=tuple(warnings),
        strict_parser=strict,
        document_timestamped=last_doc_ts is not None,
        **base,
    )


def format_report(report: VerificationReport) -> str:
    """Human-readable text for the CLI."""
    lines = [
        f"Verdict: {report.verdict.upper()} — {report.reason}",
        f"File: {report.size} bytes, SHA-256 {report.sha256}",
    ]
    lines += [f"Warning: {w}" for w in report.warnings]
    for sig in report.signatures:
        lines.append("")
        lines.append(f"#{sig.index + 1} {sig.kind} in field {sig.field_name!r}: {sig.verdict}")
        who = sig.signer_name + (f" / {sig.organisation}" if sig.organisation else "")
        if sig.organisation_id:
            who += f" ({sig.organisation_id})"
        lines.append(f"  Signer: {who}")
        lines.append(f"  Chain: {' -> '.join(sig.chain)}")
        if sig.signing_time:
            lines.append(f"  Time: {sig.signing_time.isoformat()} ({sig.signing_time_source})")
        if sig.timestamp:
            lines.append(f"  Timestamp: {sig.timestamp.time.isoformat()} by {sig.timestamp.tsa}")
        lines.append(
            f"  Intact: {sig.intact}  Valid: {sig.valid}  Trusted: {sig.trusted}  "
            f"Revocation: {sig.revocation}"
        )
        lines.append(
            f"  Coverage: {sig.coverage}  Modifications: {sig.modification_level}  "
            f"LTV: {sig.ltv}  Level: {sig.pades_level or '-'}"
        )
        if sig.changed_form_fields:
            lines.append(f"  Fields filled after it: {', '.join(sig.changed_form_fields)}")
        lines += [f"  Problem: {p}" for p in sig.problems]
        lines += [f"  Warning: {w}" for w in sig.warnings]
    return "\n".join(lines)


def trust_settings(roots: Sequence[Any]) -> TrustSettings:
    """Build :class:`TrustSettings` from ``cryptography`` or ``asn1crypto`` certificates."""
    from qianshu.signing.signers import to_asn1

    return TrustSettings(roots=tuple(to_asn1(r) for r in roots))
