"""The configured key stores, built from settings."""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from qianshu.signing.keys import Argon2Params, PinKeyStore, Pkcs11KeyStore, SoftwareKeyStore


def master_key() -> bytes:
    """The 32-byte platform master key from ``QIANSHU_MASTER_KEY`` (base64)."""
    raw = settings.MASTER_KEY
    try:
        key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured("QIANSHU_MASTER_KEY must be base64 (32 random bytes)") from None
    if len(key) != 32:
        raise ImproperlyConfigured("QIANSHU_MASTER_KEY must decode to exactly 32 bytes")
    return key


def software_key_store() -> SoftwareKeyStore:
    return SoftwareKeyStore(master_key())


def pin_key_store() -> PinKeyStore:
    """Person keys under Argon2id(PIN) + a server secret derived from the master key.

    New keys use the cost of ``QIANSHU_PIN_ARGON2``; each wrapped key records its own cost, so
    keys wrapped under an older setting still open.
    """
    secret = hashlib.sha256(b"qianshu/pin-server-secret/v1" + master_key()).digest()
    params = getattr(settings, "QIANSHU_PIN_ARGON2", None)
    return PinKeyStore(secret, Argon2Params(**params) if params else None)


@cache
def _pkcs11(lib: str, token: str, pin: str) -> Pkcs11KeyStore:
    return Pkcs11KeyStore(lib, token, pin)


def pkcs11_key_store() -> Pkcs11KeyStore:
    cfg = settings.QIANSHU_PKCS11
    if not cfg["pin"]:
        raise ImproperlyConfigured("QIANSHU_PKCS11_PIN must be set to use the PKCS#11 key store")
    return _pkcs11(cfg["lib"], cfg["token"], cfg["pin"])
