"""手机扫码认证 tokens: the QR code that hands real-name verification over from a computer to
a phone (face recognition needs the phone's camera).

A token is ``<nonce>.<timestamp>.<signature>``: 256 random bits signed with a timestamp
(``django.core.signing.TimestampSigner`` under a salt of its own). A tampered or stale token is
refused before the database is asked; a well-signed one must still name an unused, unexpired
:class:`~qianshu.identity.models.IdentityHandoff` of the account logged in on the phone, and
opening it uses it up under a row lock (``actions/handoff.py``). Only the SHA-256 of the nonce
is stored, and the token grants nothing by itself: the phone logs in with its own SMS code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.core import signing

from qianshu.identity.errors import HandoffUnusable

HANDOFF_LIFETIME = dt.timedelta(minutes=10)
HANDOFFS_PER_HOUR = 20  # per user: a reload of the page reuses the QR code of the session
_SALT = "qianshu.identity.handoff"
_SEP = "."  # not in the URL-safe base64 alphabet of the nonce
_MAX_TOKEN_CHARS = 200


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALT, sep=_SEP)


def nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh ``(token, nonce hash)``."""
    nonce = secrets.token_urlsafe(32)
    return _signer().sign(nonce), nonce_hash(nonce)


def token_nonce_hash(token: str) -> str:
    """The nonce hash of a well-signed token younger than :data:`HANDOFF_LIFETIME`; raises
    :class:`HandoffUnusable` (``invalid`` or ``expired``) otherwise."""
    if not token or len(token) > _MAX_TOKEN_CHARS:
        raise HandoffUnusable("invalid")
    try:
        nonce = _signer().unsign(token, max_age=HANDOFF_LIFETIME)
    except signing.SignatureExpired:
        raise HandoffUnusable("expired") from None
    except signing.BadSignature:
        raise HandoffUnusable("invalid") from None
    return nonce_hash(nonce)
