"""Load the platform PKI from the database and wire it into signing-core objects."""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography import x509
from django.conf import settings

from qianshu.pki import services
from qianshu.pki.keystores import software_key_store
from qianshu.pki.models import IssuedCertificate, PlatformKey, RootRevocationList
from qianshu.signing import pki, revocation
from qianshu.signing.pki import CertifiedKey, PlatformPki, RootCertificate
from qianshu.signing.revocation import PlatformRevocation
from qianshu.signing.signers import KeySigner, to_asn1
from qianshu.signing.timestamps import InProcessTimeStamper, TimeStampAuthority
from qianshu.signing.verify import TrustSettings

log = logging.getLogger(__name__)


class PkiNotInitialised(Exception):
    """The platform PKI has not been created yet (run ``qianshu init-pki``)."""


def urls() -> pki.PkiUrls:
    return pki.PkiUrls(settings.PUBLIC_URL)


def _status(serial: int) -> revocation.CertificateStatus:
    row = IssuedCertificate.objects.filter(serial_hex=format(serial, "x")).first()
    if row is None:
        return revocation.CertificateStatus("unknown")
    if row.revoked_at is not None:
        return revocation.CertificateStatus(
            "revoked", row.revoked_at, x509.ReasonFlags[row.revocation_reason or "unspecified"]
        )
    return revocation.CertificateStatus("good")


def revoked_by(ca_id: str) -> list[revocation.RevokedEntry]:
    rows = IssuedCertificate.objects.filter(issuer_role=ca_id, revoked_at__isnull=False)
    return [
        revocation.RevokedEntry(
            r.serial_number,
            r.revoked_at,  # type: ignore[arg-type]
            x509.ReasonFlags[r.revocation_reason or "unspecified"],
        )
        for r in rows
    ]


def root_key_online() -> bool:
    """Whether the root key is still in the database (a deployment made before it went
    offline): ``qianshu pki export-root-key`` moves it out."""
    return PlatformKey.objects.filter(role=PlatformKey.Role.ROOT).exclude(wrapped_key=b"").exists()


def _root_crl() -> bytes | None:
    """The newest CRL the offline root signed; for a deployment whose root key is still in the
    database (not yet exported), one signed on the spot as before."""
    newest = RootRevocationList.objects.order_by("-crl_number").first()
    if newest is not None:
        return bytes(newest.crl_der)
    row = PlatformKey.objects.filter(role=PlatformKey.Role.ROOT).exclude(wrapped_key=b"").first()
    if row is None:
        log.error("no root CRL: sign one with `qianshu pki root-sign --crl`")
        return None
    key = software_key_store().unwrap(bytes(row.wrapped_key), "pki:root")
    root = CertifiedKey(x509.load_der_x509_certificate(bytes(row.certificate_der)), key)
    now = pki.utcnow()
    return revocation.build_crl(
        root, revoked_by(pki.ROOT_ID), crl_number=int(now.timestamp()), now=now
    )


def lookup_issued(serial: int) -> tuple[x509.Certificate, revocation.CertificateStatus] | None:
    row = IssuedCertificate.objects.filter(serial_hex=format(serial, "x")).first()
    if row is None:
        return None
    return x509.load_der_x509_certificate(bytes(row.certificate_der)), _status(serial)


@dataclass(frozen=True)
class Platform:
    """The loaded platform: PKI, TSA, the platform's own certifying signer, revocation."""

    pki: PlatformPki
    platform: CertifiedKey
    fingerprint: str

    # Built once per loaded platform (it is cached per process): the TSA precomputes its token
    # templates and the signer its signing-certificate attribute, ~10 ms each to build.
    @cached_property
    def tsa(self) -> TimeStampAuthority:
        return TimeStampAuthority(self.pki.tsa, self.pki.chain)

    @cached_property
    def timestamper(self) -> InProcessTimeStamper:
        return InProcessTimeStamper(self.tsa)

    @cached_property
    def certifier(self) -> KeySigner:
        return KeySigner(self.platform.key, self.platform.certificate, self.pki.chain)

    @property
    def revocation(self) -> PlatformRevocation:
        # Revocation state is read from the database on every call, never cached.
        return PlatformRevocation(self.pki, _status, revoked_by, _root_crl)

    def trust(self, extra_roots: tuple[Any, ...] = ()) -> TrustSettings:
        return TrustSettings(roots=(to_asn1(self.pki.root.certificate), *extra_roots))


_cache_lock = threading.Lock()
_cache: dict[str, Platform] = {}
_ROLES = (
    PlatformKey.Role.ROOT,
    PlatformKey.Role.ISSUING,
    PlatformKey.Role.TSA,
    PlatformKey.Role.OCSP,
    PlatformKey.Role.PLATFORM,
)


def _rows() -> dict[str, PlatformKey]:
    rows = {row.role: row for row in PlatformKey.objects.all()}
    missing = {r.value for r in PlatformKey.Role} - set(rows)
    if missing:
        raise PkiNotInitialised(f"platform PKI not initialised (missing {sorted(missing)})")
    ocsp = x509.load_der_x509_certificate(bytes(rows[PlatformKey.Role.OCSP].certificate_der))
    if services.renew_if_due(PlatformKey.Role.OCSP, ocsp):
        # OCSP must never lapse, timers or not: the responder certificate was replaced.
        rows = {row.role: row for row in PlatformKey.objects.all()}
    return rows


def load_platform() -> Platform:
    """The platform PKI with unwrapped keys (the root's excepted: it is offline).

    Key material never changes once created, so the unwrapped objects are cached per process,
    keyed by the certificates' fingerprint (a re-initialised PKI, a renewed OCSP responder or
    TSA certificate is picked up at once).
    """
    rows = _rows()
    fingerprint = hashlib.sha256(
        b"".join(bytes(rows[role].certificate_der) for role in _ROLES)
    ).hexdigest()
    with _cache_lock:
        cached = _cache.get(fingerprint)
        if cached is not None:
            return cached
    store = software_key_store()

    def certified(role: str) -> CertifiedKey:
        row = rows[role]
        key = store.unwrap(bytes(row.wrapped_key), f"pki:{role}")
        return CertifiedKey(x509.load_der_x509_certificate(bytes(row.certificate_der)), key)

    root = x509.load_der_x509_certificate(bytes(rows[PlatformKey.Role.ROOT].certificate_der))
    loaded = Platform(
        pki=PlatformPki(
            root=RootCertificate(root),
            issuing=certified("issuing"),
            tsa=certified("tsa"),
            ocsp=certified("ocsp"),
        ),
        platform=certified("platform"),
        fingerprint=fingerprint,
    )
    with _cache_lock:
        _cache.clear()
        _cache[fingerprint] = loaded
    return loaded


def is_initialised() -> bool:
    return PlatformKey.objects.count() == len(PlatformKey.Role)
