"""Encryption of identity data at rest, and keyed lookups of ID numbers.

ID numbers (and the phone and card numbers typed for a check) are stored AES-256-GCM encrypted
under a key derived from the platform master key, with the owning user's id as associated data:
a ciphertext copied onto another user's row no longer decrypts. A keyed HMAC of the document
type and number lets the platform find "is this number already verified?" without decrypting
anything and without a plain hash that could be brute-forced over the small ID-number space.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from qianshu.pki.keystores import master_key

_MAGIC = b"QID1"


class DecryptionError(Exception):
    """The ciphertext does not belong to this user, or the master key changed."""


@cache
def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def _encryption_key() -> AESGCM:
    return AESGCM(_derive(master_key(), b"qianshu/identity-data/v1"))


def _lookup_key() -> bytes:
    return _derive(master_key(), b"qianshu/id-number-lookup/v1")


def _aad(user_id: int, purpose: str) -> bytes:
    return _MAGIC + f"user:{user_id}:{purpose}".encode()


def encrypt(plaintext: str, *, user_id: int, purpose: str = "id-number") -> bytes:
    """Encrypt ``plaintext`` for ``user_id``; ``purpose`` separates kinds of data."""
    nonce = os.urandom(12)
    return (
        _MAGIC
        + nonce
        + _encryption_key().encrypt(nonce, plaintext.encode(), _aad(user_id, purpose))
    )


def decrypt(ciphertext: bytes, *, user_id: int, purpose: str = "id-number") -> str:
    data = bytes(ciphertext)
    if not data.startswith(_MAGIC) or len(data) < 4 + 12 + 16:
        raise DecryptionError("not an encrypted identity value")
    try:
        plain = _encryption_key().decrypt(data[4:16], data[16:], _aad(user_id, purpose))
    except InvalidTag:
        raise DecryptionError("wrong user or master key") from None
    return plain.decode()


def encrypt_json(value: dict[str, str], *, user_id: int, purpose: str) -> bytes:
    return encrypt(json.dumps(value, ensure_ascii=False), user_id=user_id, purpose=purpose)


def decrypt_json(ciphertext: bytes, *, user_id: int, purpose: str) -> dict[str, str]:
    value = json.loads(decrypt(ciphertext, user_id=user_id, purpose=purpose))
    if not isinstance(value, dict):
        raise DecryptionError("not an encrypted mapping")
    return {str(k): str(v) for k, v in value.items()}


def number_hmac(id_type: str, number: str) -> str:
    """Keyed lookup value of a (normalised) document number: one per document, whoever asks."""
    message = f"{id_type}\x1f{number}".encode()
    return hmac.new(_lookup_key(), message, hashlib.sha256).hexdigest()
