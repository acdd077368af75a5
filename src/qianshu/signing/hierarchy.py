"""The platform's CA hierarchy: the offline root, the issuing CA and the service certificates.

The root key is used only here, in a ceremony (``qianshu init-pki``, ``qianshu pki root-sign``)
where it is supplied for that moment: it signs the issuing CA's certificate and the root's CRL
(:func:`qianshu.signing.revocation.build_crl`). The issuing CA signs everything else: the TSA
certificate, the short-lived OCSP responder certificates (replaced when
:func:`ocsp_responder_due`), end-entity certificates (:mod:`qianshu.signing.pki`), CRLs and OCSP
responses.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import CertificatePoliciesOID, ExtendedKeyUsageOID, NameOID

from qianshu.signing.errors import PkiError
from qianshu.signing.keys import SigningKey, SoftwareSigningKey
from qianshu.signing.pki import (
    ISSUING_ID,
    POLICY_SERVICE,
    ROOT_ID,
    CertifiedKey,
    PkiUrls,
    PlatformPki,
    add_distribution,
    add_policies,
    certificate_builder,
    sign_certificate,
    subject_name,
    utcnow,
)

OCSP_RESPONDER_LIFETIME = dt.timedelta(days=7)
OCSP_RESPONDER_RENEW_BEFORE = dt.timedelta(days=2)
TSA_LIFETIME = dt.timedelta(days=3650)

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
    subject = subject_name(
        (NameOID.COUNTRY_NAME, "CN"),
        (NameOID.ORGANIZATION_NAME, name),
        (NameOID.COMMON_NAME, f"{name} Root CA"),
    )
    builder = (
        certificate_builder(
            subject, subject, key.public_key, now, now + dt.timedelta(days=365 * years), None
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_CA_KU, critical=True)
    )
    cert = sign_certificate(builder, key)
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
    subject = subject_name(
        (NameOID.COUNTRY_NAME, "CN"),
        (NameOID.ORGANIZATION_NAME, name),
        (NameOID.COMMON_NAME, f"{name} Issuing CA"),
    )
    builder = certificate_builder(
        subject,
        root.certificate.subject,
        key.public_key,
        now,
        min(now + dt.timedelta(days=365 * years), root.certificate.not_valid_after_utc),
        None,
    )
    return CertifiedKey(_issuing_certificate(builder, root, urls), key)


def _issuing_certificate(
    builder: x509.CertificateBuilder, root: CertifiedKey, urls: PkiUrls
) -> x509.Certificate:
    builder = builder.add_extension(
        x509.BasicConstraints(ca=True, path_length=0), critical=True
    ).add_extension(_CA_KU, critical=True)
    builder = add_policies(builder, urls, CertificatePoliciesOID.ANY_POLICY.dotted_string)
    builder = add_distribution(builder, urls, ROOT_ID, ocsp_url=False)
    return sign_certificate(builder, root.ca_private_key())


def recertify_issuing_ca(
    root: CertifiedKey,
    issuing: x509.Certificate,
    urls: PkiUrls,
    *,
    now: dt.datetime | None = None,
    years: int = 10,
) -> x509.Certificate:
    """A new certificate for the issuing CA's existing key and name (the offline root's
    ceremony): everything the issuing CA signed keeps chaining, to either certificate."""
    check_root_key(root.key, root.certificate)
    now = now or utcnow()
    builder = certificate_builder(
        issuing.subject,
        root.certificate.subject,
        issuing.public_key(),  # type: ignore[arg-type]
        now - dt.timedelta(hours=1),
        min(now + dt.timedelta(days=365 * years), root.certificate.not_valid_after_utc),
        None,
    )
    return _issuing_certificate(builder, root, urls)


def check_root_key(key: SigningKey, root: x509.Certificate) -> None:
    """Raise :class:`PkiError` unless ``key`` is the private key of ``root``."""
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    ours = root.public_key().public_bytes(serialization.Encoding.DER, spki)
    if key.public_key.public_bytes(serialization.Encoding.DER, spki) != ours:
        raise PkiError("the key supplied is not the root CA's key", code="root_key")


def _issue_service(
    name: str,
    role: str,
    issuing: CertifiedKey,
    key: SigningKey,
    urls: PkiUrls,
    eku: x509.ObjectIdentifier,
    now: dt.datetime,
    lifetime: dt.timedelta,
) -> CertifiedKey:
    subject = subject_name(
        (NameOID.COUNTRY_NAME, "CN"),
        (NameOID.ORGANIZATION_NAME, name),
        (NameOID.COMMON_NAME, f"{name} {role}"),
    )
    builder = certificate_builder(
        subject,
        issuing.certificate.subject,
        key.public_key,
        now,
        min(now + lifetime, issuing.certificate.not_valid_after_utc),
        None,
    )
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
    builder = builder.add_extension(_SERVICE_KU, critical=True)
    builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=True)
    builder = add_policies(builder, urls, POLICY_SERVICE)
    if eku == ExtendedKeyUsageOID.OCSP_SIGNING:
        builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
        builder = add_distribution(builder, urls, ISSUING_ID, ocsp_url=False)
    else:
        builder = add_distribution(builder, urls, ISSUING_ID)
    return CertifiedKey(sign_certificate(builder, issuing.ca_private_key()), key)


def issue_tsa_certificate(
    name: str,
    issuing: CertifiedKey,
    key: SigningKey,
    urls: PkiUrls,
    *,
    now: dt.datetime | None = None,
    lifetime: dt.timedelta = TSA_LIFETIME,
) -> CertifiedKey:
    """The time-stamping authority's certificate (at most as long as the issuing CA's)."""
    now = (now or utcnow()) - dt.timedelta(hours=1)
    return _issue_service(
        name,
        "Time Stamping Authority",
        issuing,
        key,
        urls,
        ExtendedKeyUsageOID.TIME_STAMPING,
        now,
        lifetime,
    )


def issue_ocsp_responder(
    name: str,
    issuing: CertifiedKey,
    key: SigningKey,
    urls: PkiUrls,
    *,
    now: dt.datetime | None = None,
    lifetime: dt.timedelta = OCSP_RESPONDER_LIFETIME,
) -> CertifiedKey:
    """A short-lived OCSP responder certificate, delegated by the issuing CA (ocsp-nocheck:
    short life instead of revocation checking, RFC 6960 §4.2.2.2.1)."""
    now = (now or utcnow()) - dt.timedelta(hours=1)
    return _issue_service(
        name, "OCSP Responder", issuing, key, urls, ExtendedKeyUsageOID.OCSP_SIGNING, now, lifetime
    )


def ocsp_responder_due(responder: x509.Certificate, now: dt.datetime | None = None) -> bool:
    """Whether an OCSP responder certificate should be replaced now."""
    return responder.not_valid_after_utc - (now or utcnow()) < OCSP_RESPONDER_RENEW_BEFORE


def create_platform_pki(
    name: str,
    urls: PkiUrls,
    *,
    keys: tuple[SoftwareSigningKey, SoftwareSigningKey, SigningKey, SigningKey],
    now: dt.datetime | None = None,
) -> PlatformPki:
    """Create root CA, issuing CA, TSA and OCSP responder certificates for the given keys.

    The result holds the root key: the caller takes it offline (see the module docstring).
    """
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
        TSA_LIFETIME,
    )
    ocsp_cert = _issue_service(
        name,
        "OCSP Responder",
        issuing,
        ocsp_key,
        urls,
        ExtendedKeyUsageOID.OCSP_SIGNING,
        now,
        OCSP_RESPONDER_LIFETIME,
    )
    return PlatformPki(root=root, issuing=issuing, tsa=tsa, ocsp=ocsp_cert)
