"""Webhook secrets and signatures (the Standard Webhooks scheme).

A secret is ``whsec_`` followed by the base64 of 32 random bytes. A message is signed with
HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}`` under the decoded secret; the
``webhook-signature`` header lists ``v1,<base64 signature>`` for each secret in force,
separated by spaces (two during a rotation). Receivers accept a message when any listed
signature matches one of their secrets and the time-stamp is recent (:func:`verify`, also in
the Python client).

At rest a secret is encrypted with AES-256-GCM under a key derived from the platform master
key (HKDF label of its own), bound to its endpoint: a ciphertext copied to another endpoint's
row does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
import uuid
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from qianshu.pki.keystores import master_key

PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60
_LABEL = b"qianshu/webhook-secret/v1"
_NONCE = 12


class InvalidSignature(Exception):
    """The message is not signed by any of the secrets, or it is too old or too new."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(os.urandom(32)).decode()


def _key_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """``v1,<base64 HMAC-SHA256>`` of the message under ``secret``."""
    content = f"{msg_id}.{timestamp}.{body}".encode()
    digest = hmac.new(_key_bytes(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: list[str], msg_id: str, timestamp: int, body: str) -> str:
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


def verify(
    secret: str,
    headers: dict[str, str],
    body: str,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Raise :class:`InvalidSignature` unless ``headers`` sign ``body`` with ``secret``."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get("webhook-id", "")
    stamp = lower.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdigit():
        raise InvalidSignature("missing webhook-id or webhook-timestamp")
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        raise InvalidSignature("the time-stamp is outside the tolerance")
    expected = sign(secret, msg_id, int(stamp), body).encode()
    for candidate in lower.get("webhook-signature", "").split():
        if hmac.compare_digest(candidate.encode(), expected):
            return
    raise InvalidSignature("no signature matches")


@cache
def _cipher() -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(master_key())
    return AESGCM(key)


def encrypt(secret: str, *, endpoint_uuid: uuid.UUID) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + _cipher().encrypt(nonce, secret.encode(), endpoint_uuid.bytes)


def decrypt(data: bytes | memoryview, *, endpoint_uuid: uuid.UUID) -> str:
    raw = bytes(data)
    return _cipher().decrypt(raw[:_NONCE], raw[_NONCE:], endpoint_uuid.bytes).decode()
