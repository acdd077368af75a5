"""The issuing CA keeps its service certificates current: OCSP responder and TSA renewal.

The OCSP responder certificate lives 7 days (:data:`qianshu.signing.hierarchy.
OCSP_RESPONDER_LIFETIME`) and is replaced with a new key when two days are left. The TSA
certificate is replaced when it would expire within the archive renewal window plus a month:
archive renewal (``qianshu renew-archives``) is only worth anything with a time-stamp that
outlives that window. Both run from the timers; :func:`qianshu.pki.platform.load_platform` also
replaces an OCSP responder that is due, so OCSP never lapses when no timer runs.

Each renewal locks the role's row and checks again under the lock, so several processes may
try at once: one replaces the certificate, the others see the new one.
"""

from __future__ import annotations

import datetime as dt
import logging

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.db import transaction

from qianshu.pki.keystores import software_key_store
from qianshu.pki.models import IssuedCertificate, PlatformKey
from qianshu.signing import hierarchy, pki
from qianshu.signing.keys import SoftwareSigningKey, generate_private_key

log = logging.getLogger(__name__)

# A month beyond the archive renewal window: the TSA certificate is renewed before any archive
# time-stamped with it would need renewing again.
TSA_MARGIN = dt.timedelta(days=30)


def urls() -> pki.PkiUrls:
    return pki.PkiUrls(settings.PUBLIC_URL)


def record_issued(cert: x509.Certificate, *, issuer_role: str, kind: str) -> IssuedCertificate:
    """Every certificate a platform CA signs gets a row: OCSP answers and CRLs come from them."""
    return IssuedCertificate.objects.create(
        serial_hex=format(cert.serial_number, "x"),
        issuer_role=issuer_role,
        kind=kind,
        subject=cert.subject.rfc4514_string()[:500],
        certificate_der=cert.public_bytes(Encoding.DER),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def issuing_ca() -> pki.CertifiedKey:
    row = PlatformKey.objects.get(role=PlatformKey.Role.ISSUING)
    key = software_key_store().unwrap(bytes(row.wrapped_key), "pki:issuing")
    return pki.CertifiedKey(x509.load_der_x509_certificate(bytes(row.certificate_der)), key)


def tsa_renew_before() -> dt.timedelta:
    return dt.timedelta(days=settings.QIANSHU_ARCHIVE_RENEW_DAYS) + TSA_MARGIN


def _replace(role: str, now: dt.datetime) -> bool:
    """Replace ``role``'s key and certificate if it is still due under the row lock."""
    row = PlatformKey.objects.select_for_update().get(role=role)
    current = x509.load_der_x509_certificate(bytes(row.certificate_der))
    if not _is_due(role, current, now):
        return False
    issuing = issuing_ca()
    key = SoftwareSigningKey(generate_private_key())
    name = settings.QIANSHU_PKI_NAME
    if role == PlatformKey.Role.OCSP:
        made = hierarchy.issue_ocsp_responder(name, issuing, key, urls(), now=now)
    else:
        made = hierarchy.issue_tsa_certificate(name, issuing, key, urls(), now=now)
        if made.certificate.not_valid_after_utc - now < tsa_renew_before():
            log.error(
                "the issuing CA expires %s: the TSA certificate cannot outlive the archive "
                "renewal window; re-certify the issuing CA (qianshu pki root-sign --issuing-ca)",
                issuing.certificate.not_valid_after_utc.date(),
            )
    row.certificate_der = made.certificate_der
    row.wrapped_key = software_key_store().wrap(key.private_key, f"pki:{role}")
    row.save(update_fields=["certificate_der", "wrapped_key"])
    record_issued(made.certificate, issuer_role=pki.ISSUING_ID, kind=IssuedCertificate.Kind.SERVICE)
    log.info("%s certificate renewed until %s", role, made.certificate.not_valid_after_utc)
    return True


def _is_due(role: str, cert: x509.Certificate, now: dt.datetime) -> bool:
    if role == PlatformKey.Role.OCSP:
        return hierarchy.ocsp_responder_due(cert, now)
    return cert.not_valid_after_utc - now < tsa_renew_before()


def renew_if_due(role: str, cert: x509.Certificate, now: dt.datetime | None = None) -> bool:
    """Replace the OCSP responder or TSA certificate ``cert`` if it is due; True if replaced."""
    now = now or pki.utcnow()
    if not _is_due(role, cert, now):
        return False
    with transaction.atomic():
        return _replace(role, now)
