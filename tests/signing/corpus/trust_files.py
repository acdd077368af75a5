"""Corpus files about time and trust: revocation before and after the proof of existence,
expired certificates, validation data outside the protection of a document time-stamp,
forged OCSP responses, copied and broken signature time-stamps, archive renewal.

The platform PKI is created an hour before "now"; signatures here are time-stamped 40
minutes ago by the platform TSA with its clock set back, revocations dated around that.
"""

from __future__ import annotations

import datetime as dt
import io

from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields
from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec, SigFieldSpec
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore

from qianshu.signing import documents, pki, revocation
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.keys import SoftwareSigningKey, generate_private_key
from qianshu.signing.signers import KeySigner
from qianshu.signing.timestamps import InProcessTimeStamper, TimeStampAuthority
from tests.signing import helpers

MINUTE = dt.timedelta(minutes=1)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stamper_at(platform: EphemeralPlatform, when: dt.datetime) -> InProcessTimeStamper:
    """The platform TSA with its clock set to ``when``."""
    return InProcessTimeStamper(
        TimeStampAuthority(platform.pki.tsa, platform.pki.chain, clock=lambda: when)
    )


def signer_since(
    platform: EphemeralPlatform, name: str, since: dt.datetime, *, hours: int | None = None
) -> KeySigner:
    """A person certificate valid from ``since`` (an event certificate for ``hours`` if given)."""
    key = SoftwareSigningKey(generate_private_key("ec-p256"))
    identity = pki.PersonIdentity(name, pki.new_subject_id())
    if hours is None:
        cert = pki.issue_person_certificate(
            platform.pki.issuing, identity, key.public_key, platform.urls, now=since
        )
    else:
        cert = pki.issue_event_certificate(
            platform.pki.issuing, identity, "E1", key.public_key, platform.urls,
            now=since, hours=hours,
        )  # fmt: skip
    platform.issued[cert.serial_number] = cert
    return KeySigner(key, cert, platform.pki.chain)


def signed_at(platform: EphemeralPlatform, when: dt.datetime, signer: KeySigner) -> bytes:
    """Prepared and signed by ``signer``, both time-stamped at ``when``."""
    ts = stamper_at(platform, when)
    # The platform's own certificate is only five minutes old: certify with an older one.
    certifier = signer_since(platform, f"{platform.name} Platform", when - 10 * MINUTE)
    prepared = documents.prepare_document(
        helpers.make_pdf(), helpers.DEFAULT_FIELDS, certifier=certifier, timestamper=ts
    )
    return documents.sign_turn(
        prepared,
        [documents.Placement(helpers.PERSON_FIELD, helpers.signature_image("Alice"))],
        signer=signer,
        timestamper=ts,
    )


def _revoke(platform: EphemeralPlatform, signer: KeySigner, when: dt.datetime) -> None:
    platform.revoke(signer.signing_cert.serial_number, when)


# --- revocation and expiry relative to the proof of existence ---------------------------------


def revoked_after_poe(platform: EphemeralPlatform) -> bytes:
    """Time-stamped 40 minutes ago, revoked 20 minutes ago, finished now: still valid."""
    signer = signer_since(platform, "Alice", now() - 55 * MINUTE)
    signed = signed_at(platform, now() - 40 * MINUTE, signer)
    _revoke(platform, signer, now() - 20 * MINUTE)
    return helpers.finish(platform, signed)


def revoked_before_poe(platform: EphemeralPlatform) -> bytes:
    """Revoked 45 minutes ago, time-stamped 40 minutes ago: invalid."""
    signer = signer_since(platform, "Alice", now() - 55 * MINUTE)
    _revoke(platform, signer, now() - 45 * MINUTE)
    signed = signed_at(platform, now() - 40 * MINUTE, signer)
    return helpers.finish(platform, signed)


def expired_after_poe(platform: EphemeralPlatform) -> bytes:
    """A one-hour event certificate, time-stamped while valid, expired before finishing."""
    signer = signer_since(platform, "Alice", now() - 62 * MINUTE, hours=1)
    signed = signed_at(platform, now() - 40 * MINUTE, signer)
    return finish_by_hand(platform, signed)


# --- validation data without (or with forged) protection --------------------------------------


def _ocsp(
    platform: EphemeralPlatform,
    cert: x509.Certificate,
    status: revocation.CertificateStatus,
    *,
    responder: pki.CertifiedKey | None = None,
    at: dt.datetime | None = None,
) -> asn1_ocsp.OCSPResponse:
    der = revocation.ocsp_response(
        cert, platform.pki.issuing.certificate, status, responder or platform.pki.ocsp, now=at
    )
    return asn1_ocsp.OCSPResponse.load(der)


def _forger() -> pki.CertifiedKey:
    """An OCSP responder of another hierarchy: not authorised by our issuing CA."""
    return EphemeralPlatform(name="Forger").pki.ocsp


def _append_dss(data: bytes, ocsps: list[asn1_ocsp.OCSPResponse]) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    DocumentSecurityStore.supply_dss_in_writer(writer, None, certs=(), ocsps=ocsps, crls=())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def unprotected_dss_revoked(platform: EphemeralPlatform) -> bytes:
    """B-LTA, then a DSS update that no time-stamp covers saying the signer is revoked:
    a genuine response (revoked after the proof of existence) and a forged one (revoked
    before it). Neither changes the verdict."""
    signer = signer_since(platform, "Alice", now() - 55 * MINUTE)
    finished = helpers.finish(platform, signed_at(platform, now() - 40 * MINUTE, signer))
    cert = platform.issued[signer.signing_cert.serial_number]
    revoked_at = now() - MINUTE
    _revoke(platform, signer, revoked_at)
    # Produced right after the revocation, so before the finishing step's "good" response:
    # OCSP times have whole seconds, and a tie made pyHanko pick either response at random.
    produced = revoked_at + dt.timedelta(seconds=1)
    return _append_dss(
        finished,
        [
            _ocsp(platform, cert, revocation.CertificateStatus("revoked", revoked_at), at=produced),
            _ocsp(
                platform,
                cert,
                revocation.CertificateStatus("revoked", now() - 50 * MINUTE),
                responder=_forger(),
            ),
        ],
    )


def unprotected_dss_no_upgrade(platform: EphemeralPlatform) -> bytes:
    """Revoked before its proof of existence (invalid), then an unprotected DSS update with
    a genuine "good" response from before the revocation: still invalid."""
    signer = signer_since(platform, "Alice", now() - 55 * MINUTE)
    old_good = _ocsp(
        platform,
        platform.issued[signer.signing_cert.serial_number],
        revocation.CertificateStatus("good"),
        at=now() - 50 * MINUTE,
    )
    _revoke(platform, signer, now() - 45 * MINUTE)
    finished = helpers.finish(platform, signed_at(platform, now() - 40 * MINUTE, signer))
    return _append_dss(finished, [old_good])


def forged_ocsp_under_doc_timestamp(platform: EphemeralPlatform) -> bytes:
    """B-T, then a DSS with a forged "good" OCSP response and a document time-stamp over it
    (anyone can get one): forged data verifies nothing, so no B-LT / B-LTA label."""
    signer = signer_since(platform, "Alice", now() - 55 * MINUTE)
    signed = signed_at(platform, now() - 40 * MINUTE, signer)
    forged = _ocsp(
        platform,
        platform.issued[signer.signing_cert.serial_number],
        revocation.CertificateStatus("good"),
        responder=_forger(),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    DocumentSecurityStore.supply_dss_in_writer(writer, None, certs=(), ocsps=[forged], crls=())
    out = io.BytesIO()
    PdfTimeStamper(platform.timestamper, field_name="Archive1").timestamp_pdf(
        writer, "sha256", output=out
    )
    return out.getvalue()


def renew(platform: EphemeralPlatform, data: bytes, field: str) -> bytes:
    """Archive renewal: fresh validation data and another document time-stamp."""
    return finish_by_hand(platform, data, field=field)


def renewed_archive(platform: EphemeralPlatform) -> bytes:
    """B-LTA, then a renewal with a second document time-stamp field."""
    finished = helpers.signed_document(platform).finished
    assert finished is not None
    return renew(platform, finished, "QS-DocTimeStamp-2")


# --- signature time-stamps: copied from another signature, broken -----------------------------


def _contents(data: bytes, field: str) -> tuple[int, int]:
    """(start, end) of the hex /Contents string of ``field``'s signature."""
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    for sig in reader.embedded_signatures:
        if str(sig.field_name) == field:
            a, b, c, _ = (int(v) for v in sig.byte_range)
            return a + b, c
    raise AssertionError(f"no signature in field {field!r}")


def _load_cms(data: bytes, field: str) -> cms.ContentInfo:
    start, end = _contents(data, field)
    # /Contents is padded with zeros after the DER value.
    return cms.ContentInfo.load(bytes.fromhex(data[start + 1 : end - 1].decode()), strict=False)


class _ReplayingTimeStamper(InProcessTimeStamper):
    """Answers every request with one recorded token, as a forger copying it would."""

    def __init__(self, authority: TimeStampAuthority, token: cms.ContentInfo) -> None:
        super().__init__(authority)
        self.token = token

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        return self.token


def _token(info: cms.ContentInfo) -> cms.ContentInfo:
    for attr in info["content"]["signer_infos"][0]["unsigned_attrs"]:
        if attr["type"].native == "signature_time_stamp_token":
            return attr["values"][0]  # type: ignore[no-any-return]
    raise AssertionError("no signature time-stamp")


def copied_signature_timestamp(platform: EphemeralPlatform) -> bytes:
    """The seal's signature carries the person signature's time-stamp token (copied)."""
    prepared = helpers.prepare(platform, helpers.make_pdf())
    signed, _ = helpers.sign_person(platform, prepared)
    token = _token(_load_cms(signed, helpers.PERSON_FIELD))
    return documents.sign_turn(
        signed,
        [documents.Placement(helpers.SEAL_FIELD, helpers.seal_image())],
        signer=platform.seal_signer("Acme Ltd", helpers.CREDIT_CODE, "Contract seal"),
        timestamper=_ReplayingTimeStamper(platform.tsa, token),
    )


def broken_signature_timestamp(platform: EphemeralPlatform) -> bytes:
    """The seal's time-stamp token has a corrupted signature value (one byte changed in
    place: /Contents is not covered by the signature's byte range)."""
    signed = helpers.signed_document(platform, finished=False).signed
    start, end = _contents(signed, helpers.SEAL_FIELD)
    info = _load_cms(signed, helpers.SEAL_FIELD)
    value = _token(info)["content"]["signer_infos"][0]["signature"].native
    hex_value = value.hex().upper().encode()  # pyHanko writes upper-case hex
    at = signed.index(hex_value, start, end) + len(hex_value) - 4  # a digit of a late byte
    flipped = b"0" if signed[at : at + 1] != b"0" else b"1"
    return signed[:at] + flipped + signed[at + 1 :]


class _RevocationAt:
    """Revocation data as the platform would have served it at ``at``, valid ``minutes``."""

    def __init__(self, platform: EphemeralPlatform, at: dt.datetime, minutes: int) -> None:
        self.platform, self.at, self.validity = platform, at, dt.timedelta(minutes=minutes)

    def ocsp_response(self, certificate: object, issuer: object) -> bytes | None:
        p = self.platform
        serial = certificate.serial_number  # type: ignore[attr-defined]
        cert = p.issued.get(serial)
        if cert is None:
            return None
        return revocation.ocsp_response(
            cert,
            p.pki.issuing.certificate,
            revocation.CertificateStatus("good"),
            p.pki.ocsp,
            now=self.at,
            validity=self.validity,
        )

    def crl(self, issuer: object) -> bytes | None:
        return revocation.build_crl(
            self.platform.root_ca, [], crl_number=1, now=self.at, next_update=self.validity
        )


def finish_by_hand(
    platform: EphemeralPlatform,
    signed: bytes,
    *,
    at: dt.datetime | None = None,
    revocation_source: object | None = None,
    lock: bool = False,
    field: str = "QS-DocTimeStamp",
) -> bytes:
    """Validation data for every certificate, then a document time-stamp (at ``at``), whose
    field locks all fields when ``lock`` is set (the completion lock).

    Like :func:`~qianshu.signing.documents.finish_document`, without validating anything on
    the way (it refuses expired certificates).
    """
    reader = PdfFileReader(io.BytesIO(signed))
    certs, ocsp_ders, crl_ders = documents.collect_validation_data(
        [*signature_certs(reader), *platform.trust_roots],
        revocation_source or platform.revocation,  # type: ignore[arg-type]
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        None,
        certs=certs,
        ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in ocsp_ders],
        crls=[asn1_crl.CertificateList.load(c) for c in crl_ders],
    )
    if lock:
        fields.append_signature_field(
            writer, SigFieldSpec(field, field_mdp_spec=FieldMDPSpec(FieldMDPAction.ALL))
        )
    stamper = stamper_at(platform, at) if at is not None else platform.timestamper
    out = io.BytesIO()
    PdfTimeStamper(stamper, field_name=field).timestamp_pdf(writer, "sha256", output=out)
    return out.getvalue()


def stale_validation_data(platform: EphemeralPlatform) -> bytes:
    """Finished 35 minutes ago with revocation data valid for 5 minutes: verified today, the
    data is long stale, but it was fresh at the time its document time-stamp proves."""
    signer = signer_since(platform, "Alice", now() - 55 * MINUTE)
    signed = signed_at(platform, now() - 40 * MINUTE, signer)
    at = now() - 35 * MINUTE
    return finish_by_hand(platform, signed, at=at, revocation_source=_RevocationAt(platform, at, 5))


def signature_certs(reader: PdfFileReader) -> list[object]:
    """Every certificate in the signatures' CMS and their time-stamp tokens."""
    found = {}
    for sig in reader.embedded_signatures:
        containers = [sig.signed_data]
        for attr in sig.signer_info["unsigned_attrs"] or ():
            if attr["type"].native == "signature_time_stamp_token":
                containers += [token["content"] for token in attr["values"]]
        for signed_data in containers:
            for choice in signed_data["certificates"] or ():
                found[choice.chosen.sha256] = choice.chosen
    return list(found.values())
