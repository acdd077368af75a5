"""One verdict per signature and per time-stamp, each computed on its own.

:func:`judge_signature` and :func:`judge_document_timestamp` turn one embedded signature into
a :class:`~qianshu.signing.verdicts.SignatureReport`. Everything that can fail on a hostile
or unusual file fails *that* report only ("cannot be validated"); the others are still
computed. Timing and revocation follow :mod:`qianshu.signing.ltv`.

A signature time-stamp that cannot be relied on (a copied token whose message imprint does
not match, a broken token signature, an untrusted TSA) is reported as *indeterminate* in
its own entry and gives the signature no proof of existence; it does not make the signature
or the document invalid.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.diff_analysis import DiffPolicy, DiffResult, ModificationLevel
from pyhanko.sign.validation.generic_cms import (
    cms_basic_validation,
    extract_self_reported_ts,
    extract_tst_data_iter,
    message_imprint_checker,
    validate_tst_signed_data,
)
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import (
    PdfSignatureStatus,
    SignatureCoverageLevel,
    TimestampSignatureStatus,
)
from pyhanko_certvalidator import ValidationContext

from qianshu.signing.ltv import Contexts, mentions
from qianshu.signing.structure import DssMaterial, changed_fields, field_states
from qianshu.signing.verdicts import (
    INDETERMINATE,
    INVALID,
    VALID,
    SignatureReport,
    TimestampReport,
    worst,
)

_WEAK_DIGESTS = {"sha1", "md5", "md2"}
_SIGNATURE_SUBFILTERS = {"/adbe.pkcs7.detached", "/ETSI.CAdES.detached", "/ETSI.RFC3161"}
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
_REVOKED = (AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE)
_ORG_ID_OID = "2.5.4.97"
_SIGNATURE_USAGE = PdfSignatureStatus.default_usage_constraints(None)


@dataclass
class DocumentContext:
    """What every signature's judgement of one document shares."""

    reader: PdfFileReader
    contexts: Contexts
    diff_policy: DiffPolicy
    # (revision, time) of every document time-stamp judged valid, oldest first
    archive_times: list[tuple[int, dt.datetime]] = field(default_factory=list)
    uncovered: DssMaterial = field(default_factory=DssMaterial)
    signature_fields: frozenset[str] = frozenset()
    _current_fields: dict[frozenset[str], dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    _all_contexts: Contexts | None = None

    def archive_after(self, revision: int) -> dt.datetime | None:
        """The time of the first valid document time-stamp after ``revision``."""
        return next((t for r, t in self.archive_times if r > revision), None)

    def current_fields(self, names: frozenset[str]) -> dict[str, tuple[Any, Any]]:
        """The current state of the form fields in ``names`` (kept per set of names)."""
        found = self._current_fields.get(names)
        if found is None:
            found = self._current_fields[names] = field_states(self.reader.root, names)
        return found

    def all_material(self) -> Contexts:
        """Contexts over covered *and* uncovered material (for the B-LT label only)."""
        if self._all_contexts is None:
            covered = self.contexts.covered
            self._all_contexts = Contexts(
                self.contexts.trust,
                DssMaterial(
                    covered.certs + self.uncovered.certs,
                    covered.ocsps + self.uncovered.ocsps,
                    covered.crls + self.uncovered.crls,
                ),
            )
        return self._all_contexts


# --- names ------------------------------------------------------------------------------------


def _name_attr(name: asn1_x509.Name, key: str) -> str:
    value = name.native.get(key)
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    return str(value or "")


def _org_id(name: asn1_x509.Name) -> str:
    for rdn in name.chosen:
        for attr in rdn:
            if attr["type"].dotted == _ORG_ID_OID:
                return str(attr["value"].native).removeprefix("NTRCN-")
    return ""


def display_name(cert: asn1_x509.Certificate) -> str:
    return _name_attr(cert.subject, "common_name") or str(cert.subject.human_friendly)


def _signer_fields(cert: asn1_x509.Certificate) -> dict[str, Any]:
    return {
        "signer_name": _name_attr(cert.subject, "common_name"),
        "organisation": _name_attr(cert.subject, "organization_name"),
        "organisation_id": _org_id(cert.subject),
        "certificate_serial": format(cert.serial_number, "X"),
        "certificate_sha256": cert.sha256.hex(),
    }


def _chain(cert: asn1_x509.Certificate, path: Any) -> tuple[str, ...]:
    """Subject names from the signer up to the trust root (just the signer if untrusted)."""
    if path is None:
        return (display_name(cert),)
    try:
        names = [display_name(c) for c in path.iter_certs(include_root=True)]
    except Exception:  # noqa: BLE001 - a display detail must not break verification
        return (display_name(cert),)
    return tuple(reversed(names))


# --- certificate judgement at the proof of existence ------------------------------------------


def _trusted(kwargs: dict[str, Any]) -> bool:
    return bool(kwargs.get("valid")) and kwargs.get("trust_problem_indic") is None


def _revoked(kwargs: dict[str, Any]) -> bool:
    return kwargs.get("trust_problem_indic") in _REVOKED


@dataclass(frozen=True)
class Judgement:
    kwargs: dict[str, Any]
    revocation: str  # good | revoked | not_checked | unknown
    moment: dt.datetime | None


Validate = Callable[[ValidationContext], Awaitable[dict[str, Any]]]


async def judge_certificate(
    validate: Validate, contexts: Contexts, moments: list[dt.datetime | None]
) -> Judgement:
    """Validate at the first moment; retry a failure at each earlier proof of existence.

    With covered revocation data, it is required first; when it is missing, stale or does
    not verify, the chain is judged without it ("not_checked", or "unknown" when data about
    this very certificate was there but could not be used), never as revoked.
    """
    last: Judgement | None = None
    for moment in moments:
        state = "not_checked"
        if contexts.has_revinfo:
            kwargs = await validate(contexts.at(moment, revocation=True))
            if _trusted(kwargs):
                return Judgement(kwargs, "good", moment)
            if _revoked(kwargs):
                last = Judgement(kwargs, "revoked", moment)
                continue
            stale = kwargs.get("trust_problem_indic") == AdESIndeterminate.TRY_LATER
            cert = kwargs.get("signing_cert")
            revoked_at = _revocation_date(last)
            if revoked_at is not None and moment is not None and revoked_at > moment:
                # Verified at a later moment: revoked, but only after this proof of existence.
                state = "revoked_after_poe"
            elif not stale and cert is not None and mentions(contexts.covered, cert):
                state = "unknown"
        kwargs = await validate(contexts.at(moment, revocation=False))
        if _trusted(kwargs):
            if state == "revoked_after_poe":
                kwargs["revocation_details"] = last.kwargs.get("revocation_details")  # type: ignore[union-attr]
            return Judgement(kwargs, state, moment)
        if last is None or last.revocation != "revoked":
            last = Judgement(kwargs, state, moment)
    assert last is not None
    return last


def _revocation_date(judged: Judgement | None) -> dt.datetime | None:
    if judged is None or judged.revocation != "revoked":
        return None
    details = judged.kwargs.get("revocation_details")
    return getattr(details, "revocation_date", None)


def _trust_problem(kwargs: dict[str, Any], who: str) -> str:
    indic = kwargs.get("trust_problem_indic")
    detail = f" ({indic.standard_name.lower()})" if indic is not None else ""
    return f"{who} certificate chain is not trusted{detail}"


# --- signature time-stamps --------------------------------------------------------------------


async def _signature_timestamp(
    embedded: EmbeddedPdfSignature, doc: DocumentContext
) -> tuple[TimestampReport | None, Judgement | None]:
    signer_info = embedded.signer_info
    tokens = list(extract_tst_data_iter(signer_info, signed=False))
    if not tokens:
        return None, None
    moment = doc.archive_after(embedded.signed_revision)

    async def validate(vc: ValidationContext) -> dict[str, Any]:
        return await validate_tst_signed_data(tokens[0], vc, message_imprint_checker(signer_info))

    try:
        judged = await judge_certificate(validate, doc.contexts, [moment])
    except Exception as exc:  # noqa: BLE001 - a broken token fails this time-stamp only
        problem = f"the signature time-stamp cannot be validated: {type(exc).__name__}"
        return (
            TimestampReport(None, "", False, False, False, INDETERMINATE, (problem,)),
            None,
        )
    status = TimestampSignatureStatus(**judged.kwargs)
    problems = []
    if not status.intact:
        problems.append("the time-stamp token was not made for this signature")
    elif not status.valid:
        problems.append("the time-stamp token's signature does not verify")
    elif judged.revocation == "revoked":
        problems.append("the time-stamping authority's certificate was revoked")
    elif not status.trusted:
        problems.append(_trust_problem(judged.kwargs, "the time-stamping authority's"))
    report = TimestampReport(
        time=status.timestamp,
        tsa=display_name(status.signing_cert),
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        verdict=INDETERMINATE if problems else VALID,
        problems=tuple(problems),
    )
    return report, judged


# --- signatures -------------------------------------------------------------------------------


class UnsupportedSignature(Exception):
    """A signature field whose value is not a signature format we can verify."""


def _integrity(embedded: EmbeddedPdfSignature, doc: DocumentContext) -> dict[str, Any]:
    subfilter = str(embedded.sig_object.get("/SubFilter", ""))
    if subfilter not in _SIGNATURE_SUBFILTERS:
        raise UnsupportedSignature(f"unsupported signature format {subfilter or '(none)'}")
    # The algorithm identifiers are not covered by the signature: a damaged one must not pass
    # as long as its OID still reads (asn1crypto parses lazily).
    signer_info = embedded.signer_info
    _ = (signer_info["digest_algorithm"].native, signer_info["signature_algorithm"].native)
    embedded.compute_integrity_info(diff_policy=doc.diff_policy)
    return embedded.summarise_integrity_info()


def _modifications(
    integrity: dict[str, Any], problems: list[str]
) -> tuple[str, str, bool | None, Any]:
    """Coverage, modification level and DocMDP result; adds problems, returns the diff."""
    coverage_level = integrity.get("coverage")
    coverage = _COVERAGE.get(coverage_level, "unclear") if coverage_level else "unclear"
    diff = integrity.get("diff_result")
    level = diff.modification_level if isinstance(diff, DiffResult) else None
    if diff is None:
        level = ModificationLevel.NONE
    level_name = _MOD_LEVELS.get(level, "other") if level is not None else "other"
    if diff is not None and not isinstance(diff, DiffResult):
        problems.append(f"suspicious change after signing: {diff}")
    if coverage not in ("entire_file", "entire_revision"):
        problems.append("the signature does not cover its whole revision")
    if level is None or level in (ModificationLevel.OTHER, ModificationLevel.ANNOTATIONS):
        problems.append(f"the document was modified after signing ({level_name})")
    docmdp_ok = integrity.get("docmdp_ok")
    if docmdp_ok is False:
        problems.append("changes after signing exceed what the certification allows")
    return coverage, level_name, docmdp_ok, diff


def _changed_fields(
    embedded: EmbeddedPdfSignature, doc: DocumentContext, diff: Any
) -> tuple[str, ...]:
    if not isinstance(diff, DiffResult) or not diff.changed_form_fields:
        return ()
    # pyHanko lists the fields that were allowed to change; keep the ones that did. A
    # signature field is always kept, so only the others need comparing.
    names = {str(name) for name in diff.changed_form_fields}
    others = frozenset(names - doc.signature_fields)
    really: set[str] = set()
    if others:
        before = field_states(doc.reader.get_historical_root(embedded.signed_revision), others)
        really = changed_fields(before, doc.current_fields(others))
    return tuple(sorted(n for n in names if n in really or n in doc.signature_fields))


@dataclass(frozen=True)
class _Later:
    """What happened to the document after a signature or time-stamp."""

    coverage: str
    level: str
    docmdp_ok: bool | None
    changed_fields: tuple[str, ...]
    problems: tuple[str, ...]  # each fails the signature
    warnings: tuple[str, ...]


def _later_changes(
    embedded: EmbeddedPdfSignature, doc: DocumentContext, integrity: dict[str, Any], what: str
) -> _Later:
    problems: list[str] = []
    coverage, level, docmdp_ok, diff = _modifications(integrity, problems)
    changed = _changed_fields(embedded, doc, diff)
    others = [n for n in changed if n not in doc.signature_fields]
    warnings = (f"form fields changed after this {what}: " + ", ".join(others),) if others else ()
    return _Later(coverage, level, docmdp_ok, changed, tuple(problems), warnings)


async def _pades_level(
    embedded: EmbeddedPdfSignature,
    doc: DocumentContext,
    validate: Validate,
    signer: Judgement,
    tst: Judgement | None,
    archive: dt.datetime | None,
) -> str:
    if tst is None:
        return "B-B"
    verified = ("good", "revoked_after_poe")
    if signer.revocation in verified and tst.revocation in verified:
        return "B-LTA" if archive is not None else "B-LT"
    uncovered = doc.uncovered
    if not (uncovered.ocsps or uncovered.crls) or signer.moment is None:
        return "B-T"
    # Validation data no document time-stamp protects: enough for the label, never for
    # the verdict (module docstring of ltv).
    everything = doc.all_material()
    kwargs = await validate(everything.at(signer.moment, revocation=True))
    return "B-LT" if _trusted(kwargs) else "B-T"


def _signer_verdict(
    judged: Judgement, poe: dt.datetime | None, md_algorithm: str
) -> tuple[str, list[str], list[str]]:
    """Verdict, problems and warnings from the cryptographic check and the certificate."""
    kwargs = judged.kwargs
    problems: list[str] = []
    warnings: list[str] = []
    verdict = VALID
    revocation_time = getattr(kwargs.get("revocation_details"), "revocation_date", None)
    if judged.revocation == "revoked_after_poe" and revocation_time and poe:
        warnings.append(
            f"the signer's certificate was revoked on {revocation_time.isoformat()}, after "
            f"the signature's proof of existence ({poe.isoformat()}): the signature stays valid"
        )
    md = str(kwargs.get("md_algorithm", md_algorithm)).lower()
    if not kwargs["intact"]:
        problems.append("the signed content was changed (digest mismatch)")
        verdict = INVALID
    elif md in _WEAK_DIGESTS:
        # The default policy refuses these: the signature may be genuine, but cannot be
        # relied on any more.
        problems.append(
            f"the signature uses {md.upper()}, a digest algorithm that is no longer accepted"
        )
        verdict = INDETERMINATE
    elif not kwargs["valid"]:
        problems.append("the cryptographic signature does not verify")
        verdict = INVALID
    if judged.revocation == "revoked":
        when = f" on {revocation_time.isoformat()}" if revocation_time else ""
        before = (
            f", before the signature's proof of existence ({poe.isoformat()})"
            if poe is not None
            else " (the signature has no proof of existence before that)"
        )
        problems.append(f"the signer's certificate was revoked{when}{before}")
        verdict = INVALID
    elif not _trusted(kwargs) and verdict == VALID:
        problems.append(_trust_problem(kwargs, "the signer's"))
        verdict = INDETERMINATE
    if judged.revocation == "unknown":
        warnings.append("revocation information about the signer's certificate cannot be verified")
    return verdict, problems, warnings


async def judge_signature(
    index: int, embedded: EmbeddedPdfSignature, doc: DocumentContext
) -> SignatureReport:
    """The report of one signature (not a document time-stamp)."""
    kind = "certification" if embedded.docmdp_level is not None else "signature"
    integrity = _integrity(embedded, doc)
    tst_report, tst = await _signature_timestamp(embedded, doc)
    tst_ok = tst_report is not None and tst_report.verdict == VALID
    archive = doc.archive_after(embedded.signed_revision)
    moments: list[dt.datetime | None] = [archive] if archive is not None else []
    if tst_ok and tst_report and tst_report.time and (archive is None or tst_report.time < archive):
        moments.append(tst_report.time)
    raw_digest = embedded.compute_digest()

    async def validate(vc: ValidationContext) -> dict[str, Any]:
        return await cms_basic_validation(
            embedded.signed_data,
            raw_digest=raw_digest,
            validation_context=vc,
            key_usage_settings=_SIGNATURE_USAGE,
        )

    judged = await judge_certificate(validate, doc.contexts, moments or [None])
    kwargs = judged.kwargs
    cert: asn1_x509.Certificate = kwargs["signing_cert"]
    if tst_ok and tst_report:
        poe, poe_source = tst_report.time, "signature_timestamp"
    elif archive is not None:
        poe, poe_source = archive, "document_timestamp"
    else:
        poe, poe_source = None, ""
    verdict, problems, warnings = _signer_verdict(judged, poe, embedded.md_algorithm)
    revocation = judged.revocation
    revocation_time = getattr(kwargs.get("revocation_details"), "revocation_date", None)
    if tst_report is not None and tst_report.verdict != VALID:
        warnings += [f"signature time-stamp: {p}" for p in tst_report.problems]
    later = _later_changes(embedded, doc, integrity, "signature")
    if later.problems:
        problems += later.problems
        verdict = INVALID
    warnings += later.warnings
    level = await _pades_level(embedded, doc, validate, judged, tst if tst_ok else None, archive)
    sig_obj = embedded.sig_object
    signing_time = tst_report.time if tst_ok and tst_report else None
    claimed = extract_self_reported_ts(embedded.signer_info) or embedded.self_reported_timestamp
    return SignatureReport(
        index=index,
        field_name=str(embedded.field_name or ""),
        kind=kind,
        verdict=verdict,
        problems=tuple(problems),
        warnings=tuple(warnings),
        revision=embedded.signed_revision,
        chain=_chain(cert, kwargs.get("validation_path")),
        intact=bool(kwargs["intact"]),
        valid=bool(kwargs["valid"]),
        trusted=_trusted(kwargs),
        revocation=revocation,
        revocation_time=revocation_time,
        signing_time=signing_time or claimed,
        signing_time_source="timestamp" if signing_time else ("claimed" if claimed else ""),
        proof_of_existence=poe,
        proof_of_existence_source=poe_source,
        timestamp=tst_report,
        coverage=later.coverage,
        modification_level=later.level,
        docmdp_ok=later.docmdp_ok,
        changed_form_fields=later.changed_fields,
        ltv=level in ("B-LT", "B-LTA"),
        pades_level=level,
        reason=str(sig_obj.get("/Reason", "") or ""),
        location=str(sig_obj.get("/Location", "") or ""),
        **_signer_fields(cert),
    )


# --- document time-stamps ---------------------------------------------------------------------


async def judge_document_timestamp(
    index: int,
    embedded: EmbeddedPdfSignature,
    doc: DocumentContext,
    moment: dt.datetime | None,
) -> SignatureReport:
    """The report of one document time-stamp, judged at ``moment`` (its PoE; None = now)."""
    integrity = _integrity(embedded, doc)

    async def validate(vc: ValidationContext) -> dict[str, Any]:
        return await validate_tst_signed_data(embedded.signed_data, vc, embedded.compute_digest)

    judged = await judge_certificate(validate, doc.contexts, [moment])
    kwargs = judged.kwargs
    cert: asn1_x509.Certificate = kwargs["signing_cert"]
    problems: list[str] = []
    verdict = VALID
    if not kwargs["intact"]:
        problems.append("the time-stamped content was changed (digest mismatch)")
        verdict = INVALID
    elif not kwargs["valid"]:
        problems.append("the time-stamp token's signature does not verify")
        verdict = INVALID
    elif judged.revocation == "revoked":
        problems.append("the time-stamping authority's certificate was revoked")
        verdict = INVALID
    elif not _trusted(kwargs):
        problems.append(_trust_problem(kwargs, "the time-stamping authority's"))
        verdict = INDETERMINATE
    later = _later_changes(embedded, doc, integrity, "time-stamp")
    if later.problems:
        problems += later.problems
        verdict = INVALID
    return SignatureReport(
        index=index,
        field_name=str(embedded.field_name or ""),
        kind="document_timestamp",
        verdict=verdict,
        problems=tuple(problems),
        warnings=later.warnings,
        changed_form_fields=later.changed_fields,
        revision=embedded.signed_revision,
        chain=_chain(cert, kwargs.get("validation_path")),
        intact=bool(kwargs["intact"]),
        valid=bool(kwargs["valid"]),
        trusted=_trusted(kwargs),
        revocation=judged.revocation,
        signing_time=kwargs.get("timestamp"),
        signing_time_source="timestamp",
        proof_of_existence=moment,
        proof_of_existence_source="document_timestamp" if moment else "",
        coverage=later.coverage,
        modification_level=later.level,
        docmdp_ok=later.docmdp_ok,
        **_signer_fields(cert),
    )


async def document_timestamp_holds(embedded: EmbeddedPdfSignature, contexts: Contexts) -> bool:
    """Whether a document time-stamp is intact, valid and trusted now (revocation aside):
    a first look, to find the newest time-stamp that protects validation data."""
    try:
        kwargs = await validate_tst_signed_data(
            embedded.signed_data, contexts.at(None, revocation=False), embedded.compute_digest
        )
    except Exception:  # noqa: BLE001 - a broken time-stamp protects nothing
        return False
    return bool(kwargs["intact"]) and _trusted(kwargs)


def cannot_validate(
    index: int, field_name: str, exc: BaseException, *, revision: int = -1
) -> SignatureReport:
    """The report of a signature that could not be judged at all."""
    if isinstance(exc, UnsupportedSignature):
        problem = f"cannot be validated: {exc}"
    else:
        problem = f"cannot be validated: {type(exc).__name__}: {str(exc)[:200]}"
    return SignatureReport(
        index=index,
        field_name=field_name,
        kind="signature",
        verdict=INDETERMINATE,
        problems=(problem,),
        revision=revision,
    )


def overall(reports: list[SignatureReport]) -> str:
    return worst(*(r.verdict for r in reports))
