"""Making and checking API keys (``qsk_<prefix>_<secret>``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from django.utils import timezone

from qianshu.api.models import ApiKey

PREFIX = "qsk_"
LAST_USED_PRECISION = dt.timedelta(minutes=1)


def new_key() -> tuple[str, str, str]:
    """A fresh key: (the whole key, its prefix, the SHA-256 of its secret)."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{PREFIX}{prefix}_{secret}", prefix, _digest(secret)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def find_key(token: str) -> ApiKey | None:
    """The active key ``token`` is, or None (unknown, malformed, revoked)."""
    if not token.startswith(PREFIX):
        return None
    prefix, _, secret = token.removeprefix(PREFIX).partition("_")
    if not prefix or not secret or len(token) > 200:
        return None
    key = ApiKey.objects.select_related("org", "created_by").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.secret_sha256, _digest(secret)):
        return None
    if key.revoked_at is not None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)  # not a write per call
    return key
