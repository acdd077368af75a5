"""Revocation data of the platform PKI: CRLs and OCSP responses (RFC 5280, RFC 6960).

The library keeps no revocation state: callers pass what they know (the Django side reads it
from the database) and get signed DER back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from qianshu.signing.pki import HASH, ISSUING_ID, ROOT_ID, CertifiedKey, PlatformPki, utcnow


@dataclass(frozen=True)
class RevokedEntry:
    serial_number: int
    revoked_at: dt.datetime
    reason: x509.ReasonFlags | None = None


@dataclass(frozen=True)
class CertificateStatus:
    """What the caller knows about one serial number, for OCSP."""

    status: str  # "good" | "revoked" | "unknown"
    revoked_at: dt.datetime | None = None
    reason: x509.ReasonFlags | None = None


ROOT_CRL_LIFETIME = dt.timedelta(days=365)


def build_crl(
    ca: CertifiedKey,
    revoked: Iterable[RevokedEntry],
    *,
    crl_number: int,
    now: dt.datetime | None = None,
    next_update: dt.timedelta = dt.timedelta(days=1),
) -> bytes:
    """A DER CRL signed by ``ca`` listing ``revoked``.

    The issuing CA's CRLs are built on every request and live a day; the offline root signs its
    CRL in a ceremony, with a long ``next_update`` (:data:`ROOT_CRL_LIFETIME`).
    """
    now = now or utcnow()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now)
        .next_update(now + next_update)
        .add_extension(x509.CRLNumber(crl_number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key), critical=False
        )
    )
    for entry in revoked:
        item = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial_number)
            .revocation_date(entry.revoked_at)
        )
        if entry.reason is not None:
            item = item.add_extension(x509.CRLReason(entry.reason), critical=False)
        builder = builder.add_revoked_certificate(item.build())
    return builder.sign(ca.ca_private_key().private_key, HASH).public_bytes(
        serialization.Encoding.DER
    )


def _ocsp_error(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


def _sign_ocsp(
    builder: ocsp.OCSPResponseBuilder, responder: CertifiedKey, nonce: bytes | None
) -> bytes:
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, responder.certificate)
    builder = builder.certificates([responder.certificate])
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.sign(responder.ca_private_key().private_key, HASH).public_bytes(
        serialization.Encoding.DER
    )


def ocsp_response(
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    status: CertificateStatus,
    responder: CertifiedKey,
    *,
    now: dt.datetime | None = None,
    nonce: bytes | None = None,
    validity: dt.timedelta = dt.timedelta(hours=12),
) -> bytes:
    """A signed, successful OCSP response about ``certificate`` (for serving or embedding)."""
    now = now or utcnow()
    cert_status = {
        "good": ocsp.OCSPCertStatus.GOOD,
        "revoked": ocsp.OCSPCertStatus.REVOKED,
        "unknown": ocsp.OCSPCertStatus.UNKNOWN,
    }[status.status]
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=certificate,
        issuer=issuer,
        algorithm=hashes.SHA256(),
        cert_status=cert_status,
        this_update=now,
        next_update=now + validity,
        revocation_time=status.revoked_at if cert_status == ocsp.OCSPCertStatus.REVOKED else None,
        revocation_reason=status.reason if cert_status == ocsp.OCSPCertStatus.REVOKED else None,
    )
    return _sign_ocsp(builder, responder, nonce)


def answer_ocsp_request(
    request_der: bytes,
    issuer: x509.Certificate,
    responder: CertifiedKey,
    lookup: Callable[[int], tuple[x509.Certificate, CertificateStatus] | None],
    *,
    now: dt.datetime | None = None,
) -> bytes:
    """Answer a DER OCSP request for certificates issued by ``issuer``.

    ``lookup(serial)`` returns the certificate and its status, or ``None`` when the serial was
    never issued (answered "unknown"). Malformed requests and requests about another issuer get
    the matching unsuccessful response status instead of an exception.
    """
    try:
        request = ocsp.load_der_ocsp_request(request_der)
        serial = request.serial_number
        algorithm = request.hash_algorithm
        name_hash, key_hash = request.issuer_name_hash, request.issuer_key_hash
    except (ValueError, TypeError):
        return _ocsp_error(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    try:
        digest = hashes.Hash(algorithm)
        digest.update(issuer.subject.public_bytes())
        expected_name = digest.finalize()
        spki = issuer.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        digest = hashes.Hash(algorithm)
        digest.update(asn1_keys.PublicKeyInfo.load(spki)["public_key"].contents[1:])
        expected_key = digest.finalize()
    except (ValueError, TypeError):
        return _ocsp_error(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    if name_hash != expected_name or key_hash != expected_key:
        return _ocsp_error(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    nonce = None
    try:
        nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        pass
    found = lookup(serial)
    if found is None:
        # Never issued by us: "unknown", naming exactly the certificate id that was asked about.
        now = now or utcnow()
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=name_hash,
            issuer_key_hash=key_hash,
            serial_number=serial,
            algorithm=algorithm,
            cert_status=ocsp.OCSPCertStatus.UNKNOWN,
            this_update=now,
            next_update=now + dt.timedelta(hours=1),
            revocation_time=None,
            revocation_reason=None,
        )
        return _sign_ocsp(builder, responder, nonce)
    certificate, status = found
    return ocsp_response(certificate, issuer, status, responder, now=now, nonce=nonce)


class PlatformRevocation:
    """Revocation data for certificates of the platform hierarchy, built on demand.

    ``status(serial)`` answers for certificates of the issuing CA; ``revoked(ISSUING_ID)`` lists
    what the issuing CA has revoked, for its CRL, which it signs here. The root's CRL is signed
    offline (:func:`build_crl` with the root key, in the root's ceremony): ``root_crl()`` gives
    the one signed last, or None. Issuing-CA CRL numbers come from the clock, so they increase
    without stored state.
    """

    def __init__(
        self,
        pki: PlatformPki,
        status: Callable[[int], CertificateStatus],
        revoked: Callable[[str], Iterable[RevokedEntry]],
        root_crl: Callable[[], bytes | None],
    ) -> None:
        self.pki = pki
        self._status = status
        self._revoked = revoked
        self._root_crl = root_crl

    def _is(self, cert: object, ours: x509.Certificate) -> bool:
        """Same CA: same name and key (the issuing CA may have been re-certified since)."""
        if isinstance(cert, asn1_x509.Certificate):
            cert = x509.load_der_x509_certificate(cert.dump())
        if not isinstance(cert, x509.Certificate):
            return False
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        return bool(
            cert.subject == ours.subject
            and cert.public_key().public_bytes(der, spki)
            == ours.public_key().public_bytes(der, spki)
        )

    def ocsp_response(self, certificate: object, issuer: object) -> bytes | None:
        if not self._is(issuer, self.pki.issuing.certificate):
            return None
        if isinstance(certificate, asn1_x509.Certificate):
            cert = x509.load_der_x509_certificate(certificate.dump())
        else:
            cert = certificate  # type: ignore[assignment]
        return ocsp_response(
            cert, self.pki.issuing.certificate, self._status(cert.serial_number), self.pki.ocsp
        )

    def crl(self, issuer: object) -> bytes | None:
        if self._is(issuer, self.pki.root.certificate):
            return self._root_crl()
        if self._is(issuer, self.pki.issuing.certificate):
            return self.crl_for(ISSUING_ID)
        return None

    def crl_for(self, ca_id: str) -> bytes | None:
        if ca_id == ROOT_ID:
            return self._root_crl()
        now = utcnow()
        return build_crl(
            self.pki.issuing, self._revoked(ISSUING_ID), crl_number=int(now.timestamp()), now=now
        )
