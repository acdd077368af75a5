"""Long-term validity: validation data, document time-stamps and their renewal (PAdES B-LTA).

* :func:`timestamp_archive` embeds validation data (certificates, OCSP responses, CRLs) for
  every signature and time-stamp in the document, then adds a document time-stamp.
* :func:`renew_archive` keeps an archive valid beyond the life of its newest time-stamp: it adds
  fresh validation data for the newest document time-stamp (its TSA certificate and chain, as of
  now) and a new document time-stamp over everything (ETSI EN 319 142-1 §5.5 "PAdES-LTA"
  augmentation). Each renewal is an incremental update with a field of its own
  (``QS-DocTimeStamp``, ``QS-DocTimeStamp-2``, ...); all renewals form one chain of proofs of
  existence. Renewal adds only DSS and time-stamp revisions, which the completion lock
  (:mod:`qianshu.signing.documents`) allows.
* :func:`archive_info` says when an archive needs renewal: the validity end of the newest
  time-stamp's TSA certificate and the algorithms it relies on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko_certvalidator import ValidationContext

from qianshu.signing.errors import SignatureError, SigningError
from qianshu.signing.pdfio import contents_size, open_incremental, read_pdf

DOC_TIMESTAMP_FIELD = "QS-DocTimeStamp"
_TIMESTAMP_FIELD_RE = re.compile(re.escape(DOC_TIMESTAMP_FIELD) + r"(?:-(\d{1,6}))?")


def is_timestamp_field(name: str) -> bool:
    """Whether ``name`` is one of the document time-stamp field names this module uses."""
    return _TIMESTAMP_FIELD_RE.fullmatch(name) is not None


def _next_timestamp_field(reader: PdfFileReader) -> str:
    """``QS-DocTimeStamp`` for the first document time-stamp, then ``-2``, ``-3``, ..."""
    used = 0
    for sig in reader.embedded_signatures:
        match = _TIMESTAMP_FIELD_RE.fullmatch(str(sig.field_name or ""))
        if match is not None:
            used = max(used, int(match.group(1) or 1))
    return DOC_TIMESTAMP_FIELD if used == 0 else f"{DOC_TIMESTAMP_FIELD}-{used + 1}"


class RevocationSource(Protocol):
    """Where the archive functions get revocation data for certificates they find."""

    def ocsp_response(
        self, certificate: asn1_x509.Certificate, issuer: asn1_x509.Certificate
    ) -> bytes | None:
        """A DER OCSP response for ``certificate``, or None when none can be given."""

    def crl(self, issuer: asn1_x509.Certificate) -> bytes | None:
        """The current DER CRL of ``issuer``, or None."""


def _signed_data_certificates(signed_data: cms.SignedData) -> list[asn1_x509.Certificate]:
    certs = []
    for choice in signed_data["certificates"] or ():
        if choice.name == "certificate":
            certs.append(choice.chosen)
    for signer_info in signed_data["signer_infos"]:
        for attr in signer_info["unsigned_attrs"] or ():
            if attr["type"].native == "signature_time_stamp_token":
                for token in attr["values"]:
                    certs += _signed_data_certificates(token["content"])
    return certs


def collect_validation_data(
    certificates: Iterable[asn1_x509.Certificate], revocation: RevocationSource
) -> tuple[list[asn1_x509.Certificate], list[bytes], list[bytes]]:
    """Certificates, OCSP responses and CRLs covering every non-root certificate given."""
    unique = {c.sha256: c for c in certificates}
    # CA certificates by subject, to find each certificate's issuer (our CAs have unique names).
    issuers = {c.subject.dump(): c for c in unique.values() if c.ca}
    ocsps: list[bytes] = []
    crls: dict[bytes, bytes] = {}
    for cert in unique.values():
        if cert.self_signed != "no":
            continue
        issuer = issuers.get(cert.issuer.dump())
        if issuer is None:
            continue
        if cert.ca:
            crl = revocation.crl(issuer)
            if crl is not None:
                crls[issuer.sha256] = crl
        else:
            response = revocation.ocsp_response(cert, issuer)
            if response is not None:
                ocsps.append(response)
    return list(unique.values()), ocsps, list(crls.values())


async def _timestamper_certificates(timestamper: TimeStamper) -> list[asn1_x509.Certificate]:
    """The certificates the timestamper's tokens carry: a new TSA certificate needs validation
    data too (the time-stamp step validates its own chain before embedding it)."""
    token = await timestamper.async_dummy_response("sha256")
    return _signed_data_certificates(token["content"])


def _add_timestamp(
    data: bytes,
    reader: PdfFileReader,
    certificates: list[asn1_x509.Certificate],
    *,
    timestamper: TimeStamper,
    revocation: RevocationSource,
    trust_roots: Sequence[asn1_x509.Certificate],
) -> bytes:
    try:
        own = asyncio.run(_timestamper_certificates(timestamper))
        certs, ocsp_ders, crl_ders = collect_validation_data(
            [*certificates, *own, *trust_roots], revocation
        )
        ocsps = [asn1_ocsp.OCSPResponse.load(o) for o in ocsp_ders]
        crls = [asn1_crl.CertificateList.load(c) for c in crl_ders]
        vc = ValidationContext(
            trust_roots=list(trust_roots),
            other_certs=certs,
            ocsps=ocsps,
            crls=crls,
            allow_fetching=False,
            revocation_mode="hard-fail",
        )
        writer = open_incremental(data)
        DocumentSecurityStore.supply_dss_in_writer(
            writer, None, certs=certs, ocsps=ocsps, crls=crls
        )
        out = io.BytesIO()
        PdfTimeStamper(timestamper, field_name=_next_timestamp_field(reader)).timestamp_pdf(
            writer,
            "sha256",
            validation_context=vc,
            bytes_reserved=contents_size(None, timestamper),
            output=out,
        )
    except SigningError:
        raise
    except Exception as exc:
        raise SignatureError(f"time-stamping failed: {type(exc).__name__}: {exc}") from exc
    return out.getvalue()


def _newest_timestamp(reader: PdfFileReader) -> EmbeddedPdfSignature | None:
    stamps = [s for s in reader.embedded_signatures if s.sig_object_type == "/DocTimeStamp"]
    return max(stamps, key=lambda s: s.signed_revision, default=None)


def _archive(
    data: bytes,
    *,
    newest_only: bool,
    timestamper: TimeStamper,
    revocation: RevocationSource,
    trust_roots: Sequence[asn1_x509.Certificate],
) -> bytes:
    reader = read_pdf(data)
    try:
        covered = list(reader.embedded_signatures)
        newest = _newest_timestamp(reader) if newest_only else None
        if newest is not None:
            covered = [newest]
        certificates = [c for sig in covered for c in _signed_data_certificates(sig.signed_data)]
    except Exception as exc:
        raise SignatureError(f"cannot read the signatures: {type(exc).__name__}") from exc
    if not covered:
        raise SignatureError("the document has no signature to finish")
    return _add_timestamp(
        data,
        reader,
        certificates,
        timestamper=timestamper,
        revocation=revocation,
        trust_roots=trust_roots,
    )


def timestamp_archive(
    data: bytes,
    *,
    timestamper: TimeStamper,
    revocation: RevocationSource,
    trust_roots: Sequence[asn1_x509.Certificate],
) -> bytes:
    """Embed validation data for every signature and time-stamp, then add a document
    time-stamp (PAdES B-LTA)."""
    return _archive(
        data,
        newest_only=False,
        timestamper=timestamper,
        revocation=revocation,
        trust_roots=trust_roots,
    )


def renew_archive(
    data: bytes,
    *,
    timestamper: TimeStamper,
    revocation: RevocationSource,
    trust_roots: Sequence[asn1_x509.Certificate],
) -> bytes:
    """Validation data for the newest document time-stamp, then a fresh document time-stamp.

    A document without a document time-stamp gets what :func:`timestamp_archive` adds.
    """
    return _archive(
        data,
        newest_only=True,
        timestamper=timestamper,
        revocation=revocation,
        trust_roots=trust_roots,
    )


@dataclass(frozen=True)
class ArchiveInfo:
    """The newest document time-stamp of a document, as renewal decisions need it.

    ``algorithms`` names what the time-stamp relies on: digest algorithms (``sha256``) and the
    TSA key (``ec-p256``, ``rsa-2048``), the vocabulary of :func:`weak_algorithms`.
    """

    timestamp_time: dt.datetime
    tsa_not_after: dt.datetime
    algorithms: frozenset[str]


def key_name(cert: asn1_x509.Certificate) -> str:
    """The vocabulary of :func:`weak_algorithms` for a key: ``ec-p256``, ``rsa-2048``..."""
    info = cert.public_key
    if info.algorithm == "ec":
        curve = str(info.curve[1])
        return {"secp256r1": "ec-p256", "secp384r1": "ec-p384", "secp521r1": "ec-p521"}.get(
            curve, f"ec-{curve}"
        )
    return f"{info.algorithm}-{info.bit_size}"


def archive_info(data: bytes) -> ArchiveInfo | None:
    """What the newest document time-stamp relies on, or None if there is none."""
    reader = read_pdf(data)
    try:
        newest = _newest_timestamp(reader)
        if newest is None:
            return None
        signed_data = newest.signed_data
        tst_info = signed_data["encap_content_info"]["content"].parsed
        signer_info = signed_data["signer_infos"][0]
        tsa = newest.signer_cert
        algorithms = {
            str(tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native),
            str(signer_info["digest_algorithm"]["algorithm"].native),
            key_name(tsa),
        }
        return ArchiveInfo(
            timestamp_time=tst_info["gen_time"].native,
            tsa_not_after=tsa.not_valid_after,
            algorithms=frozenset(algorithms),
        )
    except Exception as exc:
        raise SignatureError(f"cannot read the newest time-stamp: {type(exc).__name__}") from exc


def weak_algorithms(info: ArchiveInfo, weak: Collection[str]) -> set[str]:
    """The algorithms of ``info`` named in ``weak`` (case-insensitive)."""
    lowered = {w.strip().lower() for w in weak if w.strip()}
    return {a for a in info.algorithms if a.lower() in lowered}
