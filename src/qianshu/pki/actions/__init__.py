"""State changes of the platform PKI: initialise, the offline root's ceremonies, issue, revoke.

The root key never stays with the platform. :func:`do_init_pki` makes it, signs the issuing
CA's certificate and a first root CRL with it and hands it to ``keep_root_key`` (the command
writes it to a file for the operator to take offline). :func:`do_root_sign` is the later
ceremony: with the root key supplied for that moment it signs a fresh root CRL and, when asked,
a new certificate for the issuing CA's existing key. :func:`do_export_root_key` moves the key
of a deployment made before the root went offline out of the database.
:func:`do_renew_service_certificates` keeps the OCSP responder and TSA certificates current (see
:mod:`qianshu.pki.services`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from qianshu.pki.keystores import software_key_store
from qianshu.pki.models import IssuedCertificate, PlatformKey, RootRevocationList
from qianshu.pki.platform import load_platform, revoked_by, urls
from qianshu.pki.services import record_issued, renew_if_due
from qianshu.signing import hierarchy, pki, revocation
from qianshu.signing.errors import PkiError
from qianshu.signing.keys import PublicKey, SoftwareSigningKey, generate_private_key

log = logging.getLogger(__name__)


class PkiAlreadyInitialised(Exception):
    pass


def root_key_pem(key: SoftwareSigningKey, passphrase: bytes | None = None) -> bytes:
    """The root key as PKCS#8 PEM, encrypted when a passphrase is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_key.private_bytes(
        Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def load_root_key(pem: bytes, passphrase: bytes | None = None) -> SoftwareSigningKey:
    """Read a root key given at a ceremony; :class:`PkiError` if it is not one."""
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase or None)
    except (ValueError, TypeError) as exc:
        raise PkiError(f"cannot read the root key: {exc}", code="root_key") from exc
    return SoftwareSigningKey(key)  # type: ignore[arg-type]


def _store_root_crl(root: pki.CertifiedKey, *, days: int) -> RootRevocationList:
    now = pki.utcnow()
    number = max(
        int(now.timestamp()),
        (
            RootRevocationList.objects.order_by("-crl_number")
            .values_list("crl_number", flat=True)
            .first()
            or 0
        )
        + 1,
    )
    der = revocation.build_crl(
        root,
        revoked_by(pki.ROOT_ID),
        crl_number=number,
        now=now,
        next_update=dt.timedelta(days=days),
    )
    return RootRevocationList.objects.create(
        crl_der=der,
        crl_number=number,
        this_update=now,
        next_update=now + dt.timedelta(days=days),
    )


def do_init_pki(
    *,
    name: str | None = None,
    force: bool = False,
    keep_root_key: Callable[[SoftwareSigningKey], None] | None = None,
) -> None:
    """Create the platform hierarchy (root, issuing CA, TSA, OCSP, platform signer).

    The root key signs the issuing CA and a first root CRL, then goes to ``keep_root_key``
    (called inside the transaction: if keeping it fails, nothing is created); without one it
    is discarded — a root that can never sign again, for tests. Refuses to replace an existing
    hierarchy unless ``force`` (which makes every certificate issued so far untrusted: only for
    development).
    """
    name = name or settings.QIANSHU_PKI_NAME
    store = software_key_store()
    with transaction.atomic():
        if PlatformKey.objects.select_for_update().exists():
            if not force:
                raise PkiAlreadyInitialised("the platform PKI already exists")
            PlatformKey.objects.all().delete()
            IssuedCertificate.objects.all().delete()
            RootRevocationList.objects.all().delete()
        keys = {str(role): SoftwareSigningKey(generate_private_key()) for role in PlatformKey.Role}
        made = hierarchy.create_platform_pki(
            name, urls(), keys=(keys["root"], keys["issuing"], keys["tsa"], keys["ocsp"])
        )
        platform_cert = pki.issue_person_certificate(
            made.issuing,
            pki.PersonIdentity(f"{name} 电子签章平台", "QS-PLATFORM"),
            keys["platform"].public_key,
            urls(),
            days=365 * 5,
        )
        certs = {
            "root": made.root.certificate,
            "issuing": made.issuing.certificate,
            "tsa": made.tsa.certificate,
            "ocsp": made.ocsp.certificate,
            "platform": platform_cert,
        }
        for role, cert in certs.items():
            PlatformKey.objects.create(
                role=role,
                certificate_der=cert.public_bytes(Encoding.DER),
                wrapped_key=(
                    b"" if role == "root" else store.wrap(keys[role].private_key, f"pki:{role}")
                ),
            )
        record_issued(certs["issuing"], issuer_role=pki.ROOT_ID, kind=IssuedCertificate.Kind.CA)
        for role in ("tsa", "ocsp", "platform"):
            record_issued(
                certs[role], issuer_role=pki.ISSUING_ID, kind=IssuedCertificate.Kind.SERVICE
            )
        root = pki.CertifiedKey(made.root.certificate, keys["root"])
        _store_root_crl(root, days=revocation.ROOT_CRL_LIFETIME.days)
        if keep_root_key is not None:
            keep_root_key(keys["root"])
    log.info("platform PKI %r initialised (the platform does not store the root key)", name)


def do_root_sign(
    root_key: SoftwareSigningKey,
    *,
    crl: bool = True,
    issuing_ca: bool = False,
    crl_days: int = revocation.ROOT_CRL_LIFETIME.days,
    years: int = 10,
) -> list[str]:
    """The offline root's ceremony: a fresh root CRL and/or a new issuing CA certificate for
    the issuing CA's existing key. Returns what was done, for the operator."""
    if not 1 <= crl_days <= 3660:
        raise PkiError("a root CRL lives 1 to 3660 days", code="crl_days")
    done: list[str] = []
    with transaction.atomic():
        root_row = PlatformKey.objects.select_for_update().get(role=PlatformKey.Role.ROOT)
        root = pki.CertifiedKey(
            x509.load_der_x509_certificate(bytes(root_row.certificate_der)), root_key
        )
        hierarchy.check_root_key(root_key, root.certificate)
        if issuing_ca:
            row = PlatformKey.objects.select_for_update().get(role=PlatformKey.Role.ISSUING)
            current = x509.load_der_x509_certificate(bytes(row.certificate_der))
            cert = hierarchy.recertify_issuing_ca(root, current, urls(), years=years)
            row.certificate_der = cert.public_bytes(Encoding.DER)
            row.save(update_fields=["certificate_der"])
            record_issued(cert, issuer_role=pki.ROOT_ID, kind=IssuedCertificate.Kind.CA)
            done.append(f"issuing CA certificate valid until {cert.not_valid_after_utc:%Y-%m-%d}")
        if crl or issuing_ca:
            entry = _store_root_crl(root, days=crl_days)
            done.append(f"root CRL #{entry.crl_number}, next update {entry.next_update:%Y-%m-%d}")
    return done


def do_export_root_key(keep_root_key: Callable[[SoftwareSigningKey], None]) -> None:
    """Move the root key of an older deployment out of the database: sign a root CRL with it,
    hand it to ``keep_root_key`` (in the transaction), then delete it from the database."""
    with transaction.atomic():
        row = PlatformKey.objects.select_for_update().get(role=PlatformKey.Role.ROOT)
        if not bytes(row.wrapped_key):
            raise PkiError("the root key is not in the database (already offline)", code="offline")
        key = software_key_store().unwrap(bytes(row.wrapped_key), "pki:root")
        assert isinstance(key, SoftwareSigningKey)
        root = pki.CertifiedKey(x509.load_der_x509_certificate(bytes(row.certificate_der)), key)
        _store_root_crl(root, days=revocation.ROOT_CRL_LIFETIME.days)
        keep_root_key(key)
        row.wrapped_key = b""
        row.save(update_fields=["wrapped_key"])
    log.info("the root key left the database")


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
        record_issued(cert, issuer_role=pki.ISSUING_ID, kind=kind)
    return cert


def do_issue_seal_certificate(seal: pki.SealIdentity, public_key: PublicKey) -> x509.Certificate:
    """Issue (and record) an organisation seal's certificate."""
    platform = load_platform()
    with transaction.atomic():
        cert = pki.issue_seal_certificate(platform.pki.issuing, seal, public_key, urls())
        record_issued(cert, issuer_role=pki.ISSUING_ID, kind=IssuedCertificate.Kind.SEAL)
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


def do_renew_service_certificates(now: dt.datetime | None = None) -> dict[str, bool]:
    """Replace the OCSP responder and TSA certificates that are due (the timers call this)."""
    rows = {
        row.role: x509.load_der_x509_certificate(bytes(row.certificate_der))
        for row in PlatformKey.objects.filter(
            role__in=(PlatformKey.Role.OCSP, PlatformKey.Role.TSA)
        )
    }
    return {role: renew_if_due(role, cert, now) for role, cert in rows.items()}
