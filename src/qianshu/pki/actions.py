"""State changes of the platform PKI: initialise, issue, revoke."""

from __future__ import annotations

import datetime as dt
import logging

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from qianshu.pki.keystores import software_key_store
from qianshu.pki.models import IssuedCertificate, PlatformKey
from qianshu.pki.platform import load_platform, urls
from qianshu.signing import pki
from qianshu.signing.keys import PublicKey, SoftwareSigningKey, generate_private_key

log = logging.getLogger(__name__)


class PkiAlreadyInitialised(Exception):
    pass


def _record(cert: x509.Certificate, *, issuer_role: str, kind: str) -> IssuedCertificate:
    return IssuedCertificate.objects.create(
        serial_hex=format(cert.serial_number, "x"),
        issuer_role=issuer_role,
        kind=kind,
        subject=cert.subject.rfc4514_string()[:500],
        certificate_der=cert.public_bytes(Encoding.DER),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def do_init_pki(*, name: str | None = None, force: bool = False) -> None:
    """Create the platform hierarchy (root, issuing CA, TSA, OCSP, platform signer).

    Refuses to replace an existing hierarchy unless ``force`` (which makes every certificate
    issued so far untrusted: only for development).
    """
    name = name or settings.QIANSHU_PKI_NAME
    store = software_key_store()
    with transaction.atomic():
        if PlatformKey.objects.select_for_update().exists():
            if not force:
                raise PkiAlreadyInitialised("the platform PKI already exists")
            PlatformKey.objects.all().delete()
            IssuedCertificate.objects.all().delete()
        keys = {str(role): SoftwareSigningKey(generate_private_key()) for role in PlatformKey.Role}
        hierarchy = pki.create_platform_pki(
            name, urls(), keys=(keys["root"], keys["issuing"], keys["tsa"], keys["ocsp"])
        )
        platform_cert = pki.issue_person_certificate(
            hierarchy.issuing,
            pki.PersonIdentity(f"{name} 电子签章平台", "QS-PLATFORM"),
            keys["platform"].public_key,
            urls(),
            days=365 * 5,
        )
        certs = {
            "root": hierarchy.root.certificate,
            "issuing": hierarchy.issuing.certificate,
            "tsa": hierarchy.tsa.certificate,
            "ocsp": hierarchy.ocsp.certificate,
            "platform": platform_cert,
        }
        for role, cert in certs.items():
            PlatformKey.objects.create(
                role=role,
                certificate_der=cert.public_bytes(Encoding.DER),
                wrapped_key=store.wrap(keys[role].private_key, f"pki:{role}"),
            )
        _record(certs["issuing"], issuer_role=pki.ROOT_ID, kind=IssuedCertificate.Kind.CA)
        for role in ("tsa", "ocsp", "platform"):
            _record(certs[role], issuer_role=pki.ISSUING_ID, kind=IssuedCertificate.Kind.SERVICE)
    log.info("platform PKI %r initialised", name)


def do_issue_person_certificate(
    person: pki.PersonIdentity, public_key: PublicKey, *, event_id: str | None = None
) -> x509.Certificate:
    """Issue (and record) a person's long-term certificate, or a one-time event certificate."""
    platform = load_platform()
    with transaction.atomic():
        if event_id is None:
            cert = pki.issue_person_certificate(platform.pki.issuing, person, public_key, urls())
            kind = IssuedCertificate.Kind.PERSON
        else:
            cert = pki.issue_event_certificate(
                platform.pki.issuing, person, event_id, public_key, urls()
            )
            kind = IssuedCertificate.Kind.EVENT
        _record(cert, issuer_role=pki.ISSUING_ID, kind=kind)
    return cert


def do_issue_seal_certificate(seal: pki.SealIdentity, public_key: PublicKey) -> x509.Certificate:
    """Issue (and record) an organisation seal's certificate."""
    platform = load_platform()
    with transaction.atomic():
        cert = pki.issue_seal_certificate(platform.pki.issuing, seal, public_key, urls())
        _record(cert, issuer_role=pki.ISSUING_ID, kind=IssuedCertificate.Kind.SEAL)
    return cert


def do_revoke_certificate(
    serial: int,
    *,
    reason: str = IssuedCertificate.Reason.UNSPECIFIED,
    when: dt.datetime | None = None,
) -> bool:
    """Revoke a certificate; returns False if it was already revoked. CRL and OCSP follow."""
    with transaction.atomic():
        row = IssuedCertificate.objects.select_for_update().get(serial_hex=format(serial, "x"))
        if row.revoked_at is not None:
            return False
        row.revoked_at = when or timezone.now()
        row.revocation_reason = reason
        row.save(update_fields=["revoked_at", "revocation_reason"])
    return True
