"""Blobs encrypted at rest: identity photos, business licences and their previews, uploaded
student rosters.

Format of an encrypted blob: ``QSB1`` ‖ 12-byte random nonce ‖ AES-256-GCM ciphertext and tag.
The key is derived from the platform master key (``QIANSHU_MASTER_KEY``) with HKDF-SHA256 under a
label of its own, so it is independent of every other key the master key yields. The associated
data is the blob's purpose (``identity-photo``, ``org-licence``, ``org-licence-preview``) and its
content type, as the ``Blob`` row records them: a ciphertext moved to another purpose, or a row
whose content type was edited (say to ``text/html``), no longer decrypts.

The blob id stays the SHA-256 of what is stored, i.e. of the ciphertext: the store, its checksums
and an S3 bucket only ever see ciphertext. (The id therefore cannot be part of the associated
data; the GCM tag and the content address together make any change at rest detectable.)
"""

from __future__ import annotations

import os
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from qianshu.pki.keystores import master_key
from qianshu.storage.errors import BlobDecryptionError

MAGIC = b"QSB1"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_LABEL = b"qianshu/blob-at-rest/v1"

#: Purposes of encrypted blobs (the ``Blob.encryption_purpose`` values).
IDENTITY_PHOTO = "identity-photo"
ORG_LICENCE = "org-licence"
ORG_LICENCE_PREVIEW = "org-licence-preview"
#: A student roster uploaded by a school, kept between its check page and 确认导入.
EMPLOYMENT_ROSTER = "employment-roster"
PURPOSES = (IDENTITY_PHOTO, ORG_LICENCE, ORG_LICENCE_PREVIEW, EMPLOYMENT_ROSTER)


@cache
def _derive(master: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(master)


def _cipher() -> AESGCM:
    return AESGCM(_derive(master_key()))


def _associated_data(purpose: str, content_type: str) -> bytes:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose of an encrypted blob: {purpose!r}")
    return MAGIC + f"{purpose}\x1f{content_type}".encode()


def encrypt(plaintext: bytes, *, purpose: str, content_type: str) -> bytes:
    """Encrypt ``plaintext`` for storage as a blob of ``purpose`` and ``content_type``."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cipher().encrypt(nonce, plaintext, _associated_data(purpose, content_type))
    return MAGIC + nonce + sealed


def decrypt(data: bytes, *, purpose: str, content_type: str) -> bytes:
    """The plaintext of an encrypted blob; ``BlobDecryptionError`` if it is not one, was
    stored for another purpose or content type, was altered, or the master key changed."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _NONCE_BYTES + _TAG_BYTES:
        raise BlobDecryptionError("not an encrypted blob")
    nonce = data[len(MAGIC) : len(MAGIC) + _NONCE_BYTES]
    try:
        return _cipher().decrypt(
            nonce, data[len(MAGIC) + _NONCE_BYTES :], _associated_data(purpose, content_type)
        )
    except InvalidTag:
        raise BlobDecryptionError(
            "the blob does not decrypt: wrong master key, or altered ciphertext or row"
        ) from None
