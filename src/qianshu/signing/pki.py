"""The platform PKI: CA hierarchy, end-entity certificates, CRLs and OCSP responses.

Hierarchy: a self-signed root CA issues one issuing CA; the issuing CA issues the TSA and OCSP
responder certificates and every end-entity certificate (verified persons, organisation seals,
one-time event certificates). Certificates name AIA (CA issuers + OCSP) and CRL distribution
point URLs under the platform's public base URL (see :class:`PkiUrls`).

The library keeps no state: revocation data lives with the caller, which passes it in when a CRL
or an OCSP response is built.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    NameOID,
)

from qianshu.signing.errors import PkiError
from qianshu.signing.keys import PublicKey, SigningKey, SoftwareSigningKey

ROOT_ID = "root"
ISSUING_ID = "issuing"

# ETSI EN 319 412-1 semantics identifier prefix for a national trade register number.
_ORG_ID_PREFIX = "NTRCN-"
# A mainland ID-card number (18 chars) or an old 15-digit one: must never reach a certificate.
_ID_CARD_RE = re.compile(r"\d{17}[\dXx]|\d{15}")
_CREDIT_CODE_RE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass(frozen=True)
class PkiUrls:
    """Where the platform publishes CA certificates, CRLs and OCSP (public base URL + paths)."""

    base_url: str

    def _join(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/pki/{path}"

    def ca_certificate(self, ca_id: str) -> str:
        return self._join(f"ca/{ca_id}.crt")

    def crl(self, ca_id: str) -> str:
        return self._join(f"crl/{ca_id}.crl")

    def ocsp(self, ca_id: str) -> str:
        return self._join(f"ocsp/{ca_id}")


@dataclass(frozen=True)
class CertifiedKey:
    """A certificate with the key that signs under it."""

    certificate: x509.Certificate
    key: SigningKey

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    def _ca_private_key(self) -> SoftwareSigningKey:
        if not isinstance(self.key, SoftwareSigningKey):
            raise PkiError("CA keys must be software keys (certificate builders need the key)")
        return self.key


@dataclass(frozen=True)
class PlatformPki:
    """The platform's CA hierarchy and service certificates."""

    root: CertifiedKey
    issuing: CertifiedKey
    tsa: CertifiedKey
    ocsp: CertifiedKey

    @property
    def chain(self) -> tuple[x509.Certificate, x509.Certificate]:
        """Issuing CA then root, as embedded next to end-entity certificates."""
        return (self.issuing.certificate, self.root.certificate)


@dataclass(frozen=True)
class PersonIdentity:
    """A verified natural person as named in a certificate.

    ``subject_id`` is a platform pseudonym (e.g. an account UUID), never an ID-card number.
    """

    name: str
    subject_id: str


@dataclass(frozen=True)
class SealIdentity:
    """An organisation seal as named in a certificate."""

    org_name: str
    credit_code: str
    seal_name: str
    seal_id: str
    overseas: bool = False


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


def _digest_for(key: SigningKey) -> hashes.SHA256:
    return hashes.SHA256()


def _name(*attrs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    try:
        return x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs if value])
    except ValueError as exc:
        raise PkiError(f"invalid certificate subject: {exc}") from exc


def _check_no_id_number(*values: str) -> None:
    for value in values:
        if _ID_CARD_RE.search(value):
            raise PkiError("an ID-card number must never be written into a certificate")


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: PublicKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    serial: int | None,
) -> x509.CertificateBuilder:
    if not_after <= not_before:
        raise PkiError("certificate validity ends before it starts")
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _distribution(
    builder: x509.CertificateBuilder, urls: PkiUrls, issuer_id: str, *, ocsp_url: bool = True
) -> x509.CertificateBuilder:
    access = [
        x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS,
            x509.UniformResourceIdentifier(urls.ca_certificate(issuer_id)),
        )
    ]
    if ocsp_url:
        access.insert(
            0,
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier(urls.ocsp(issuer_id)),
            ),
        )
    return builder.add_extension(
        x509.AuthorityInformationAccess(access), critical=False
    ).add_extension(
        x509.CRLDistributionPoints(
            [
                x509.DistributionPoint(
                    full_name=[x509.UniformResourceIdentifier(urls.crl(issuer_id))],
                    relative_name=None,
                    reasons=None,
                    crl_issuer=None,
                )
            ]
        ),
        critical=False,
    )


def _sign(builder: x509.CertificateBuilder, issuer: CertifiedKey) -> x509.Certificate:
    key = issuer._ca_private_key()
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key)
    try:
        return builder.add_extension(aki, critical=False).sign(key.private_key, _digest_for(key))
    except (ValueError, TypeError) as exc:
        raise PkiError(f"cannot sign certificate: {exc}") from exc


_CA_KU = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)
_SIGNING_KU = x509.KeyUsage(
    digital_signature=True,
    content_commitment=True,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)
_SERVICE_KU = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def create_root_ca(
    name: str, key: SoftwareSigningKey, *, now: dt.datetime | None = None, years: int = 20
) -> CertifiedKey:
    now = now or utcnow()
    subject = _name(
        (NameOID.COUNTRY_NAME, "CN"),
        (NameOID.ORGANIZATION_NAME, name),
        (NameOID.COMMON_NAME, f"{name} Root CA"),
    )
    builder = (
        _builder(subject, subject, key.public_key, now, now + dt.timedelta(days=365 * years), None)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_CA_KU, critical=True)
    )
    cert = _sign(builder, CertifiedKey(certificate=None, key=key))  # type: ignore[arg-type]
    return CertifiedKey(cert, key)


def create_issuing_ca(
    name: str,
    root: CertifiedKey,
    key: SoftwareSigningKey,
    urls: PkiUrls,
    *,
    now: dt.datetime | None = None,
    years: int = 10,
) -> CertifiedKey:
    now = now or utcnow()
    subject = _name(
        (NameOID.COUNTRY_NAME, "CN"),
        (NameOID.ORGANIZATION_NAME, name),
        (NameOID.COMMON_NAME, f"{name} Issuing CA"),
    )
    builder = _builder(
        subject,
        root.certificate.subject,
        key.public_key,
        now,
        min(now + dt.timedelta(days=365 * years), root.certificate.not_valid_after_utc),
        None,
    )
    builder = builder.add_extension(
        x509.BasicConstraints(ca=True, path_length=0), critical=True
    ).add_extension(_CA_KU, critical=True)
    builder = _distribution(builder, urls, ROOT_ID, ocsp_url=False)
    return CertifiedKey(_sign(builder, root), key)


def _issue_service(
    name: str,
    role: str,
    issuing: CertifiedKey,
    key: SigningKey,
    urls: PkiUrls,
    eku: x509.ObjectIdentifier,
    now: dt.datetime,
    years: int,
) -> CertifiedKey:
    subject = _name(
        (NameOID.COUNTRY_NAME, "CN"),
        (NameOID.ORGANIZATION_NAME, name),
        (NameOID.COMMON_NAME, f"{name} {role}"),
    )
    builder = _builder(
        subject,
        issuing.certificate.subject,
        key.public_key,
        now,
        min(now + dt.timedelta(days=365 * years), issuing.certificate.not_valid_after_utc),
        None,
    )
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
    builder = builder.add_extension(_SERVICE_KU, critical=True)
    builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=True)
    if eku == ExtendedKeyUsageOID.OCSP_SIGNING:
        builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
        builder = _distribution(builder, urls, ISSUING_ID, ocsp_url=False)
    else:
        builder = _distribution(builder, urls, ISSUING_ID)
    return CertifiedKey(_sign(builder, issuing), key)


def create_platform_pki(
    name: str,
    urls: PkiUrls,
    *,
    keys: tuple[SoftwareSigningKey, SoftwareSigningKey, SigningKey, SigningKey],
    now: dt.datetime | None = None,
) -> PlatformPki:
    """Create root CA, issuing CA, TSA and OCSP responder certificates for the given keys."""
    # Back-dated an hour: relying parties with a slightly slow clock (or validating at a
    # signing time taken from the signature dictionary) must not see the CA as not yet valid.
    now = (now or utcnow()) - dt.timedelta(hours=1)
    root_key, issuing_key, tsa_key, ocsp_key = keys
    root = create_root_ca(name, root_key, now=now)
    issuing = create_issuing_ca(name, root, issuing_key, urls, now=now)
    tsa = _issue_service(
        name,
        "Time Stamping Authority",
        issuing,
        tsa_key,
        urls,
        ExtendedKeyUsageOID.TIME_STAMPING,
        now,
        10,
    )
    ocsp_cert = _issue_service(
        name, "OCSP Responder", issuing, ocsp_key, urls, ExtendedKeyUsageOID.OCSP_SIGNING, now, 2
    )
    return PlatformPki(root=root, issuing=issuing, tsa=tsa, ocsp=ocsp_cert)


def _issue_end_entity(
    issuing: CertifiedKey,
    subject: x509.Name,
    public_key: PublicKey,
    urls: PkiUrls,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    not_after = min(not_after, issuing.certificate.not_valid_after_utc)
    builder = _builder(
        subject, issuing.certificate.subject, public_key, not_before, not_after, None
    )
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
    builder = builder.add_extension(_SIGNING_KU, critical=True)
    builder = _distribution(builder, urls, ISSUING_ID)
    return _sign(builder, issuing)


def issue_person_certificate(
    issuing: CertifiedKey,
    person: PersonIdentity,
    public_key: PublicKey,
    urls: PkiUrls,
    *,
    now: dt.datetime | None = None,
    days: int = 365 * 2,
) -> x509.Certificate:
    """Long-term certificate of a verified person (name + platform pseudonym, no ID number)."""
    _check_no_id_number(person.name, person.subject_id)
    if not person.name.strip() or not person.subject_id.strip():
        raise PkiError("a person certificate needs a verified name and a subject id")
    now = now or utcnow()
    subject = _name(
        (NameOID.COUNTRY_NAME, "CN"),
        (NameOID.COMMON_NAME, person.name.strip()),
        (NameOID.SERIAL_NUMBER, person.subject_id),
    )
    return _issue_end_entity(
        issuing,
        subject,
        public_key,
        urls,
        now - dt.timedelta(minutes=5),
        now + dt.timedelta(days=days),
    )


def issue_event_certificate(
    issuing: CertifiedKey,
    person: PersonIdentity,
    event_id: str,
    public_key: PublicKey,
    urls: PkiUrls,
    *,
    now: dt.datetime | None = None,
    hours: int = 24,
) -> x509.Certificate:
    """One-time certificate for a single signing event (key made for it, destroyed after)."""
    _check_no_id_number(person.name, person.subject_id, event_id)
    now = now or utcnow()
    subject = _name(
        (NameOID.COUNTRY_NAME, "CN"),
        (NameOID.COMMON_NAME, person.name.strip()),
        (NameOID.SERIAL_NUMBER, person.subject_id),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, f"Event {event_id}"),
    )
    return _issue_end_entity(
        issuing,
        subject,
        public_key,
        urls,
        now - dt.timedelta(minutes=5),
        now + dt.timedelta(hours=hours),
    )


def validate_credit_code(code: str) -> bool:
    """GB 32100-2015 unified social credit code check digit."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    code = code.strip().upper()
    if not _CREDIT_CODE_RE.fullmatch(code):
        return False
    total = sum(alphabet.index(c) * w for c, w in zip(code[:17], weights, strict=True))
    return alphabet[(31 - total % 31) % 31] == code[17]


def issue_seal_certificate(
    issuing: CertifiedKey,
    seal: SealIdentity,
    public_key: PublicKey,
    urls: PkiUrls,
    *,
    now: dt.datetime | None = None,
    days: int = 365 * 3,
) -> x509.Certificate:
    """Certificate of an organisation seal: organisation name, credit code and seal name."""
    if not seal.overseas and not validate_credit_code(seal.credit_code):
        raise PkiError("invalid unified social credit code", code="credit_code")
    if not seal.org_name.strip() or not seal.seal_name.strip():
        raise PkiError("a seal certificate needs the organisation and seal names")
    now = now or utcnow()
    subject = _name(
        (NameOID.COUNTRY_NAME, "CN"),
        (NameOID.ORGANIZATION_NAME, seal.org_name.strip()),
        (NameOID.ORGANIZATION_IDENTIFIER, _ORG_ID_PREFIX + seal.credit_code.strip().upper()),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, seal.seal_name.strip()),
        (NameOID.COMMON_NAME, f"{seal.org_name.strip()} {seal.seal_name.strip()}"),
        (NameOID.SERIAL_NUMBER, seal.seal_id),
    )
    return _issue_end_entity(
        issuing,
        subject,
        public_key,
        urls,
        now - dt.timedelta(minutes=5),
        now + dt.timedelta(days=days),
    )


def build_crl(
    ca: CertifiedKey,
    revoked: Iterable[RevokedEntry],
    *,
    crl_number: int,
    now: dt.datetime | None = None,
    next_update: dt.timedelta = dt.timedelta(days=1),
) -> bytes:
    """A DER CRL signed by ``ca`` listing ``revoked``."""
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
    key = ca._ca_private_key()
    return builder.sign(key.private_key, _digest_for(key)).public_bytes(serialization.Encoding.DER)


def _ocsp_error(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
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
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, responder.certificate)
    builder = builder.certificates([responder.certificate])
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    key = responder._ca_private_key()
    return builder.sign(key.private_key, _digest_for(key)).public_bytes(serialization.Encoding.DER)


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
        from asn1crypto import keys as asn1_keys

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
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, responder.certificate)
        builder = builder.certificates([responder.certificate])
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        key = responder._ca_private_key()
        return builder.sign(key.private_key, _digest_for(key)).public_bytes(
            serialization.Encoding.DER
        )
    certificate, status = found
    return ocsp_response(certificate, issuer, status, responder, now=now, nonce=nonce)


def new_subject_id() -> str:
    """A random pseudonymous subject id for certificates (``QS`` + 24 hex digits)."""
    return "QS" + secrets.token_hex(12).upper()


def certificate_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def load_certificate(data: bytes) -> x509.Certificate:
    """Load a PEM or DER certificate, raising :class:`PkiError` on anything else."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise PkiError(f"not a certificate: {exc}") from exc


def load_certificates_pem(data: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise PkiError(f"not a PEM certificate bundle: {exc}") from exc


class PlatformRevocation:
    """Revocation data for certificates of the platform hierarchy, built on demand.

    ``status(serial)`` answers for certificates of the issuing CA; ``revoked(ca_id)`` lists what
    the root (``ROOT_ID``) or issuing CA (``ISSUING_ID``) has revoked, for its CRL. CRL numbers
    come from the clock, so they increase without stored state.
    """

    def __init__(
        self,
        pki: PlatformPki,
        status: Callable[[int], CertificateStatus],
        revoked: Callable[[str], Iterable[RevokedEntry]],
    ) -> None:
        self.pki = pki
        self._status = status
        self._revoked = revoked

    def _is(self, cert: object, ours: CertifiedKey) -> bool:
        from asn1crypto import x509 as asn1_x509

        if isinstance(cert, asn1_x509.Certificate):
            return bool(cert.dump() == ours.certificate_der)
        return bool(cert == ours.certificate)

    def ocsp_response(self, certificate: object, issuer: object) -> bytes | None:
        if not self._is(issuer, self.pki.issuing):
            return None
        from asn1crypto import x509 as asn1_x509

        if isinstance(certificate, asn1_x509.Certificate):
            cert = x509.load_der_x509_certificate(certificate.dump())
        else:
            cert = certificate  # type: ignore[assignment]
        return ocsp_response(
            cert, self.pki.issuing.certificate, self._status(cert.serial_number), self.pki.ocsp
        )

    def crl(self, issuer: object) -> bytes | None:
        for ca_id, ca in ((ROOT_ID, self.pki.root), (ISSUING_ID, self.pki.issuing)):
            if self._is(issuer, ca):
                return self.crl_for(ca_id)
        return None

    def crl_for(self, ca_id: str) -> bytes:
        ca = self.pki.root if ca_id == ROOT_ID else self.pki.issuing
        now = utcnow()
        return build_crl(ca, self._revoked(ca_id), crl_number=int(now.timestamp()), now=now)
