"""The verifier's trust settings: the platform root plus configured extra roots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from qianshu.pki.platform import PkiNotInitialised, load_platform
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
    try:
        roots.insert(0, to_asn1(load_platform().pki.root.certificate))
    except PkiNotInitialised:
        pass
    return TrustSettings(roots=tuple(roots))
