"""Load the platform PKI from the database and wire it into signing-core objects."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography import x509
from django.conf import settings

from qianshu.pki.keystores import software_key_store
from qianshu.pki.models import IssuedCertificate, PlatformKey
from qianshu.signing import pki, revocation
from qianshu.signing.pki import CertifiedKey, PlatformPki
from qianshu.signing.revocation import PlatformRevocation
from qianshu.signing.signers import KeySigner, to_asn1
from qianshu.signing.timestamps import InProcessTimeStamper, TimeStampAuthority
from qianshu.signing.verify import TrustSettings


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


def _revoked(ca_id: str) -> list[revocation.RevokedEntry]:
    rows = IssuedCertificate.objects.filter(issuer_role=ca_id, revoked_at__isnull=False)
    return [
        revocation.RevokedEntry(
            r.serial_number,
            r.revoked_at,  # type: ignore[arg-type]
            x509.ReasonFlags[r.revocation_reason or "unspecified"],
        )
        for r in rows
    ]


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
        return PlatformRevocation(self.pki, _status, _revoked)

    def trust(self, extra_roots: tuple[Any, ...] = ()) -> TrustSettings:
        return TrustSettings(roots=(to_asn1(self.pki.root.certificate), *extra_roots))


_cache_lock = threading.Lock()
_cache: dict[str, Platform] = {}


def load_platform() -> Platform:
    """The platform PKI with unwrapped keys.

    Key material never changes once created, so the unwrapped objects are cached per process,
    keyed by the certificates' fingerprint (a re-initialised PKI is picked up at once).
    """
    rows = {row.role: row for row in PlatformKey.objects.all()}
    missing = {r.value for r in PlatformKey.Role} - set(rows)
    if missing:
        raise PkiNotInitialised(f"platform PKI not initialised (missing {sorted(missing)})")
    fingerprint = hashlib.sha256(
        b"".join(bytes(rows[r.value].certificate_der) for r in PlatformKey.Role)
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

    loaded = Platform(
        pki=PlatformPki(
            root=certified("root"),
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
