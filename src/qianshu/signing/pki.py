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
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
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

    def ca_private_key(self) -> SoftwareSigningKey:
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


# SHA-256 for every certificate, CRL and OCSP response the platform signs.
HASH = hashes.SHA256()


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


def _sign(builder: x509.CertificateBuilder, issuer_key: SoftwareSigningKey) -> x509.Certificate:
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key)
    try:
        return builder.add_extension(aki, critical=False).sign(issuer_key.private_key, HASH)
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
    cert = _sign(builder, key)
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
    return CertifiedKey(_sign(builder, root.ca_private_key()), key)


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
    return CertifiedKey(_sign(builder, issuing.ca_private_key()), key)


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
    return _sign(builder, issuing.ca_private_key())


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


_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a credit code.

    Raises :class:`PkiError` for a body that is not 17 characters of the code alphabet.
    """
    body = first17.strip().upper()
    if len(body) != 17 or any(c not in _CREDIT_ALPHABET for c in body):
        raise PkiError("a credit code body is 17 characters of 0-9 and A-Y without I O S V Z")
    total = sum(_CREDIT_ALPHABET.index(c) * w for c, w in zip(body, _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(code: str) -> bool:
    """GB 32100-2015 unified social credit code check digit."""
    code = code.strip().upper()
    if not _CREDIT_CODE_RE.fullmatch(code):
        return False
    return credit_code_check_char(code[:17]) == code[17]


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


def new_subject_id() -> str:
    """A random pseudonymous subject id for certificates (``QS`` + 24 hex digits).

    About one id in a hundred would contain 15 decimal digits in a row, which the ID-number
    guard rightly refuses in a certificate: draw again.
    """
    while True:
        candidate = "QS" + secrets.token_hex(12).upper()
        if not _ID_CARD_RE.search(candidate):
            return candidate


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
