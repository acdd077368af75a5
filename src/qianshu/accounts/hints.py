"""Login hints: which phone a link was sent to, without putting the number into the URL.

A recipient or invitation link sends an anonymous visitor to ``/login/?next=…&hint=…``. The hint
is the phone number encrypted and authenticated with a timestamp (Fernet: AES-128-CBC +
HMAC-SHA256, from ``cryptography``) under a key derived from ``SECRET_KEY``. A signed-only
value (``django.core.signing``) would not do: its payload is readable base64, so the number
would still end up in URLs, access logs and ``Referer`` headers. The login page shows the number
masked (138****0001) and sends the code to it; it never shows or echoes the full number. A
tampered or expired hint is simply ignored (the normal login form).
"""

from __future__ import annotations

import base64
import time
from functools import cache
from urllib.parse import urlencode

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.urls import reverse

HINT_MAX_AGE = 3600  # seconds: long enough to read the SMS, short enough not to linger in logs
_MAX_HINT_CHARS = 400


@cache
def _fernet(secret: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"qianshu/login-hint/v1"
    ).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def login_hint(phone: str) -> str:
    """An opaque hint naming ``phone`` for :data:`HINT_MAX_AGE` seconds."""
    token = _fernet(settings.SECRET_KEY).encrypt_at_time(phone.encode(), int(time.time()))
    return token.decode("ascii")


def phone_from_hint(hint: str) -> str | None:
    """The phone a valid, unexpired hint names, or None."""
    if not hint or len(hint) > _MAX_HINT_CHARS:
        return None
    try:
        plain = _fernet(settings.SECRET_KEY).decrypt_at_time(
            hint.encode("ascii"), HINT_MAX_AGE, int(time.time())
        )
    except (InvalidToken, UnicodeEncodeError, ValueError):
        return None
    try:
        return plain.decode("ascii")
    except UnicodeDecodeError:
        return None


def login_url(next_path: str, phone: str = "") -> str:
    """The login page that brings the visitor back to ``next_path``; with ``phone``, the code
    goes to that number (shown masked)."""
    query = {"next": next_path}
    if phone:
        query["hint"] = login_hint(phone)
    return f"{reverse('accounts:login')}?{urlencode(query)}"
