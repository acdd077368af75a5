"""The verifier's trust settings: the platform root plus configured extra roots.

Only the root *certificate* is read (no key is unwrapped), the same row
:mod:`qianshu.verification.roots` reads without Django for ``qianshu verify``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from qianshu.pki.models import PlatformKey
from qianshu.signing.errors import PkiError
from qianshu.signing.pki import load_certificates_pem
from qianshu.signing.signers import to_asn1
from qianshu.signing.verify import TrustSettings


def extra_roots(path: str | None = None) -> tuple[Any, ...]:
    """Certificates from the PEM bundle in ``QIANSHU_EXTRA_TRUST_ROOTS`` (or ``path``)."""
    path = path if path is not None else settings.QIANSHU_EXTRA_TRUST_ROOTS
    if not path:
        return ()
    try:
        certs = load_certificates_pem(Path(path).read_bytes())
    except (OSError, PkiError) as exc:
        raise ImproperlyConfigured(f"extra trust roots {path!r} cannot be loaded: {exc}") from exc
    return tuple(to_asn1(c) for c in certs)


def verifier_trust(extra_path: str | None = None) -> TrustSettings:
    roots = list(extra_roots(extra_path))
    if extra_path is not None and settings.QIANSHU_EXTRA_TRUST_ROOTS:
        roots += list(extra_roots())
    root = PlatformKey.objects.filter(role=PlatformKey.Role.ROOT).first()
    if root is not None:
        roots.insert(0, asn1_x509.Certificate.load(bytes(root.certificate_der)))
    return TrustSettings(roots=tuple(roots))
