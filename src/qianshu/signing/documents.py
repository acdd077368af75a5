"""The life of a document: prepare (declare fields + certify), sign turns, finish (B-LTA).

* :func:`prepare_document` declares every signature field of every recipient, then certifies
  the document with the platform key (DocMDP P=2: form filling and signing allowed) and a
  timestamp. Declaring all fields first matters: a new signature field after a certification
  signature is an illegal change for it (SIGNING-NOTES "Multi-party documents").
* :func:`sign_turn` applies one recipient's stamps — each placement is the appearance of one
  declared field, signed PAdES B-T — as incremental updates on top of the given bytes. Earlier
  signatures therefore stay intact, at modification level "form filling" at worst.
* :func:`finish_document` embeds validation data (certificates, OCSP responses, CRLs) for every
  signature and timestamp in the document, then adds a document timestamp: PAdES B-LTA.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import MDPPerm, SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext

from qianshu.signing.errors import FieldError, PdfError, SignatureError, SigningError
from qianshu.signing.stamps import Rect, StampImage, stamp_style

CERTIFICATION_FIELD = "QS-Certification"
DOC_TIMESTAMP_FIELD = "QS-DocTimeStamp"
# Room for the CMS beyond its certificates: signed attributes, the signature and the
# timestamp token's own structure (hex-encoded, so twice the DER size).
_CMS_OVERHEAD = 3072


def _bytes_reserved(signer: signers.Signer | None, timestamper: TimeStamper | None) -> int:
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


_MAX_FIELD_NAME = 64


@dataclass(frozen=True)
class FieldSpec:
    """A signature field to declare: unique name, zero-based page, rectangle in PDF points."""

    name: str
    page: int
    rect: Rect


@dataclass(frozen=True)
class Placement:
    """One stamp of a signing turn: which declared field, and the image to show in it."""

    field_name: str
    image: StampImage


@dataclass(frozen=True)
class SignatureDetails:
    """Human-readable entries of the signature dictionary."""

    reason: str | None = None
    location: str | None = None
    name: str | None = None
    contact_info: str | None = None


def _reader(data: bytes, *, strict: bool = True) -> PdfFileReader:
    try:
        return PdfFileReader(io.BytesIO(data), strict=strict)
    except Exception as exc:
        raise PdfError(f"cannot read the PDF: {type(exc).__name__}: {exc}") from exc


def _writer(data: bytes) -> IncrementalPdfFileWriter:
    try:
        return IncrementalPdfFileWriter(io.BytesIO(data), strict=True)
    except Exception as exc:
        raise PdfError(f"cannot open the PDF for signing: {type(exc).__name__}: {exc}") from exc


def _check_field_name(name: str) -> None:
    if not name or len(name) > _MAX_FIELD_NAME or not name.isascii() or "." in name:
        raise FieldError(f"invalid field name {name!r}: 1-{_MAX_FIELD_NAME} ASCII chars, no dot")


def signature_fields(data: bytes) -> dict[str, bool]:
    """Names of the signature fields in the PDF, each with whether it is already signed."""
    reader = _reader(data)
    try:
        return {
            name: value is not None
            for name, value, _ in fields.enumerate_sig_fields(reader, filled_status=None)
        }
    except Exception as exc:
        raise PdfError(f"cannot list signature fields: {exc}") from exc


def page_boxes(data: bytes) -> list[Rect]:
    """Each page's visible area (CropBox, else MediaBox) in its own, unrotated user space.

    Field rectangles are expressed in this space (PDF points, origin bottom-left of the
    unrotated page), which is what signature widget annotations use.
    """
    reader = _reader(data)
    boxes = []
    try:
        count = int(reader.root["/Pages"]["/Count"])
        for index in range(count):
            page = reader.find_page_for_modification(index)[0].get_object()
            box = _inherited(page, "/CropBox") or _inherited(page, "/MediaBox")
            x1, y1, x2, y2 = (float(v) for v in box)
            boxes.append(Rect(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
    except Exception as exc:
        raise PdfError(f"cannot read the page boxes: {type(exc).__name__}: {exc}") from exc
    return boxes


def _inherited(page: Any, key: str) -> Any:
    node, depth = page, 0
    while node is not None and depth < 64:
        if key in node:
            return node[key]
        node = node.get("/Parent")
        node = node.get_object() if node is not None else None
        depth += 1
    return None


def _declare(data: bytes, field_specs: Sequence[FieldSpec]) -> IncrementalPdfFileWriter:
    boxes = page_boxes(data)
    seen: set[str] = set()
    for spec in field_specs:
        _check_field_name(spec.name)
        if spec.name in seen or spec.name in (CERTIFICATION_FIELD, DOC_TIMESTAMP_FIELD):
            raise FieldError(f"field {spec.name!r} is declared twice")
        seen.add(spec.name)
        if not 0 <= spec.page < len(boxes):
            raise FieldError(f"field {spec.name!r} is on page {spec.page + 1}, which is missing")
        box, r = boxes[spec.page], spec.rect
        if r.width <= 1 or r.height <= 1:
            raise FieldError(f"field {spec.name!r} is too small")
        tolerance = 1.0
        if (
            r.x1 < box.x1 - tolerance
            or r.y1 < box.y1 - tolerance
            or r.x2 > box.x2 + tolerance
            or r.y2 > box.y2 + tolerance
        ):
            raise FieldError(f"field {spec.name!r} lies outside its page")
    existing = signature_fields(data)
    clash = seen & set(existing)
    if clash:
        raise FieldError(f"fields already exist in the PDF: {sorted(clash)}")
    writer = _writer(data)
    try:
        for spec in field_specs:
            fields.append_signature_field(
                writer,
                SigFieldSpec(
                    sig_field_name=spec.name,
                    on_page=spec.page,
                    box=tuple(round(v, 3) for v in spec.rect.as_tuple()),  # type: ignore[arg-type]
                ),
            )
    except Exception as exc:
        raise FieldError(f"cannot declare signature fields: {exc}") from exc
    return writer


def declare_fields(data: bytes, field_specs: Sequence[FieldSpec]) -> bytes:
    """Declare empty signature fields in an incremental update, without signing.

    For documents that are not certified (no DocMDP lock): later signers fill these fields.
    """
    writer = _declare(data, field_specs)
    out = io.BytesIO()
    try:
        writer.write(out)
    except Exception as exc:
        raise PdfError(f"cannot write the PDF: {exc}") from exc
    return out.getvalue()


def prepare_document(
    data: bytes,
    field_specs: Sequence[FieldSpec],
    *,
    certifier: signers.Signer,
    timestamper: TimeStamper | None,
    details: SignatureDetails = SignatureDetails(reason="Qianshu: document prepared for signing"),
    certify: bool = True,
) -> bytes:
    """Declare the signature fields and certify the document (DocMDP P=2, with timestamp).

    Every rectangle must lie on its page (see :func:`page_boxes` for the coordinates).
    """
    writer = _declare(data, field_specs)
    meta = signers.PdfSignatureMetadata(
        field_name=CERTIFICATION_FIELD,
        certify=certify,
        docmdp_permissions=MDPPerm.FILL_FORMS,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=details.reason,
        location=details.location,
        name=details.name,
        contact_info=details.contact_info,
    )
    return _sign(writer, meta, certifier, timestamper, None)


def _sign(
    writer: IncrementalPdfFileWriter,
    meta: signers.PdfSignatureMetadata,
    signer: signers.Signer,
    timestamper: TimeStamper | None,
    image: StampImage | None,
) -> bytes:
    pdf_signer = signers.PdfSigner(
        meta,
        signer=signer,
        timestamper=timestamper,
        stamp_style=stamp_style(image) if image is not None else None,
    )
    out = io.BytesIO()
    try:
        pdf_signer.sign_pdf(
            writer,
            existing_fields_only=image is not None,
            bytes_reserved=_bytes_reserved(signer, timestamper),
            output=out,
        )
    except SigningError:
        raise
    except Exception as exc:
        raise SignatureError(f"signing failed: {type(exc).__name__}: {exc}") from exc
    return out.getvalue()


def sign_turn(
    data: bytes,
    placements: Sequence[Placement],
    *,
    signer: signers.Signer,
    timestamper: TimeStamper | None,
    details: SignatureDetails = SignatureDetails(),
) -> bytes:
    """Apply one recipient's stamps: one PAdES B-T signature per placement, in field order given.

    Every field must have been declared by :func:`prepare_document` and still be empty. Returns
    the new document bytes; the input bytes are an unchanged prefix of the output.
    """
    if not placements:
        raise FieldError("nothing to sign: no placements")
    names = [p.field_name for p in placements]
    if len(set(names)) != len(names):
        raise FieldError("a field is placed twice in one turn")
    status = signature_fields(data)
    for name in names:
        if name not in status:
            raise FieldError(f"field {name!r} was not declared in this document")
        if status[name]:
            raise FieldError(f"field {name!r} is already signed")
    current = data
    for placement in placements:
        meta = signers.PdfSignatureMetadata(
            field_name=placement.field_name,
            subfilter=SigSeedSubFilter.PADES,
            md_algorithm="sha256",
            reason=details.reason,
            location=details.location,
            name=details.name,
            contact_info=details.contact_info,
        )
        current = _sign(_writer(current), meta, signer, timestamper, placement.image)
    return current


class RevocationSource(Protocol):
    """Where :func:`finish_document` gets revocation data for certificates it finds."""

    def ocsp_response(
        self, certificate: asn1_x509.Certificate, issuer: asn1_x509.Certificate
    ) -> bytes | None:
        """A DER OCSP response for ``certificate``, or None when none can be given."""

    def crl(self, issuer: asn1_x509.Certificate) -> bytes | None:
        """The current DER CRL of ``issuer``, or None."""


def _embedded_certificates(reader: PdfFileReader) -> list[asn1_x509.Certificate]:
    certs: dict[bytes, asn1_x509.Certificate] = {}

    def add_signed_data(signed_data: cms.SignedData) -> None:
        for choice in signed_data["certificates"] or ():
            if choice.name == "certificate":
                cert = choice.chosen
                certs[cert.sha256] = cert
        for signer_info in signed_data["signer_infos"]:
            for attr in signer_info["unsigned_attrs"] or ():
                if attr["type"].native == "signature_time_stamp_token":
                    for token in attr["values"]:
                        add_signed_data(token["content"])

    for sig in reader.embedded_signatures:
        add_signed_data(sig.signed_data)
    return list(certs.values())


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


def finish_document(
    data: bytes,
    *,
    timestamper: TimeStamper,
    revocation: RevocationSource,
    trust_roots: Sequence[asn1_x509.Certificate],
) -> bytes:
    """Embed validation data for every signature, then add a document timestamp (PAdES B-LTA)."""
    reader = _reader(data)
    try:
        # Reading the earlier signatures of a hostile file raises pyHanko's own errors.
        signatures = reader.embedded_signatures
    except Exception as exc:
        raise SignatureError(f"cannot read the signatures: {type(exc).__name__}: {exc}") from exc
    if not signatures:
        raise SignatureError("the document has no signature to finish")
    try:
        certs, ocsp_ders, crl_ders = collect_validation_data(
            [*_embedded_certificates(reader), *trust_roots], revocation
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
        writer = _writer(data)
        DocumentSecurityStore.supply_dss_in_writer(
            writer, None, certs=certs, ocsps=ocsps, crls=crls
        )
        out = io.BytesIO()
        PdfTimeStamper(timestamper, field_name=DOC_TIMESTAMP_FIELD).timestamp_pdf(
            writer,
            "sha256",
            validation_context=vc,
            bytes_reserved=_bytes_reserved(None, timestamper),
            output=out,
        )
    except SigningError:
        raise
    except Exception as exc:
        raise SignatureError(f"finishing failed: {type(exc).__name__}: {exc}") from exc
    return out.getvalue()
