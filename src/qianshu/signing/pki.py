"""The platform PKI: certificate profile and end-entity certificates.

Hierarchy (:mod:`qianshu.signing.hierarchy`): a self-signed, offline root CA issues one issuing
CA; the issuing CA issues the TSA and OCSP responder certificates and every end-entity
certificate made here (verified persons, organisation seals, one-time event certificates).
Certificates name AIA (CA issuers + OCSP) and CRL distribution point URLs under the platform's
public base URL (see :class:`PkiUrls`).

Profile (see the CPS the platform serves at ``/pki/cps``):

* The running platform knows the root as a :class:`RootCertificate` and never holds its key.
* Every certificate below the root carries ``certificatePolicies``: a policy per kind of
  certificate (:data:`POLICY_PERSON`, ...) with the CPS URL as qualifier; the issuing CA
  carries ``anyPolicy``.
* Person certificates carry the platform pseudonym in ``serialNumber`` with an ETSI
  EN 319 412-1 §5.1.3 semantics identifier (``QS:CN-<pseudonym>``, local scheme "QS"), declared
  by a ``qcStatements`` entry ``id-etsi-qcs-semanticsId-Natural``; seal certificates declare
  ``id-etsi-qcs-semanticsId-Legal`` for their ``organizationIdentifier`` (``NTRCN-<code>``).

The library keeps no state: revocation data lives with the caller, which passes it in when a CRL
or an OCSP response is built.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from qianshu.signing.errors import PkiError
from qianshu.signing.keys import PublicKey, SigningKey, SoftwareSigningKey

ROOT_ID = "root"
ISSUING_ID = "issuing"

# Certificate policies under Qianshu's private arc (the TSA policy is 1.3.6.1.4.1.59213.1.1).
POLICY_PERSON = "1.3.6.1.4.1.59213.2.1"  # a verified person's long-term, PIN-protected key
POLICY_EVENT = "1.3.6.1.4.1.59213.2.2"  # a one-time key for one signing confirmed by SMS code
POLICY_SEAL = "1.3.6.1.4.1.59213.2.3"  # an organisation seal's key, used under a seal grant
POLICY_SERVICE = "1.3.6.1.4.1.59213.2.4"  # the platform's TSA and OCSP responder
# ETSI EN 319 412-1 §5.1.3: local identifier scheme "QS" (platform pseudonym) in China.
PERSON_ID_PREFIX = "QS:CN-"
_QC_STATEMENTS = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.3")
_PKIX_QC_SYNTAX_V2 = "1.3.6.1.5.5.7.11.2"
SEMANTICS_NATURAL = "0.4.0.194121.1.1"
SEMANTICS_LEGAL = "0.4.0.194121.1.2"

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

    def cps(self) -> str:
        return self._join("cps")


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
class RootCertificate:
    """The offline root as the running platform knows it: the certificate, never the key."""

    certificate: x509.Certificate

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class PlatformPki:
    """The platform's CA hierarchy and service certificates.

    ``root`` is a :class:`RootCertificate` on the running platform; a :class:`CertifiedKey` only
    where the root key is at hand (the ceremony that creates the hierarchy, tests).
    """

    root: CertifiedKey | RootCertificate
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


def subject_name(*attrs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    try:
        return x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs if value])
    except ValueError as exc:
        raise PkiError(f"invalid certificate subject: {exc}") from exc


def _check_no_id_number(*values: str) -> None:
    for value in values:
        if _ID_CARD_RE.search(value):
            raise PkiError("an ID-card number must never be written into a certificate")


def certificate_builder(
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


def add_distribution(
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


def add_policies(
    builder: x509.CertificateBuilder, urls: PkiUrls, policy: str
) -> x509.CertificateBuilder:
    return builder.add_extension(
        x509.CertificatePolicies(
            [x509.PolicyInformation(x509.ObjectIdentifier(policy), [urls.cps()])]
        ),
        critical=False,
    )


class _SemanticsInformation(core.Sequence):
    _fields = [("semantics_identifier", core.ObjectIdentifier, {"optional": True})]


class _QcStatement(core.Sequence):
    _fields = [
        ("statement_id", core.ObjectIdentifier),
        ("statement_info", _SemanticsInformation, {"optional": True}),
    ]


class _QcStatements(core.SequenceOf):
    _child_spec = _QcStatement


def _semantics(builder: x509.CertificateBuilder, semantics_id: str) -> x509.CertificateBuilder:
    """A qcStatements extension declaring the ETSI semantics identifier of the subject's
    identifier (RFC 3739 id-qcs-pkixQCSyntax-v2 with SemanticsInformation)."""
    statements = _QcStatements(
        [
            {
                "statement_id": _PKIX_QC_SYNTAX_V2,
                "statement_info": {"semantics_identifier": semantics_id},
            }
        ]
    )
    return builder.add_extension(
        x509.UnrecognizedExtension(_QC_STATEMENTS, statements.dump()), critical=False
    )


def sign_certificate(
    builder: x509.CertificateBuilder, issuer_key: SoftwareSigningKey
) -> x509.Certificate:
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key)
    try:
        return builder.add_extension(aki, critical=False).sign(issuer_key.private_key, HASH)
    except (ValueError, TypeError) as exc:
        raise PkiError(f"cannot sign certificate: {exc}") from exc


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


def _issue_end_entity(
    issuing: CertifiedKey,
    subject: x509.Name,
    public_key: PublicKey,
    urls: PkiUrls,
    not_before: dt.datetime,
    not_after: dt.datetime,
    *,
    policy: str,
    semantics_id: str,
) -> x509.Certificate:
    not_after = min(not_after, issuing.certificate.not_valid_after_utc)
    builder = certificate_builder(
        subject, issuing.certificate.subject, public_key, not_before, not_after, None
    )
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
    builder = builder.add_extension(_SIGNING_KU, critical=True)
    builder = add_policies(builder, urls, policy)
    builder = _semantics(builder, semantics_id)
    builder = add_distribution(builder, urls, ISSUING_ID)
    return sign_certificate(builder, issuing.ca_private_key())


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
    subject = subject_name(
        (NameOID.COUNTRY_NAME, "CN"),
        (NameOID.COMMON_NAME, person.name.strip()),
        (NameOID.SERIAL_NUMBER, PERSON_ID_PREFIX + person.subject_id),
    )
    return _issue_end_entity(
        issuing,
        subject,
        public_key,
        urls,
        now - dt.timedelta(minutes=5),
        now + dt.timedelta(days=days),
        policy=POLICY_PERSON,
        semantics_id=SEMANTICS_NATURAL,
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
    subject = subject_name(
        (NameOID.COUNTRY_NAME, "CN"),
        (NameOID.COMMON_NAME, person.name.strip()),
        (NameOID.SERIAL_NUMBER, PERSON_ID_PREFIX + person.subject_id),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, f"Event {event_id}"),
    )
    return _issue_end_entity(
        issuing,
        subject,
        public_key,
        urls,
        now - dt.timedelta(minutes=5),
        now + dt.timedelta(hours=hours),
        policy=POLICY_EVENT,
        semantics_id=SEMANTICS_NATURAL,
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
    subject = subject_name(
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
        policy=POLICY_SEAL,
        semantics_id=SEMANTICS_LEGAL,
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
