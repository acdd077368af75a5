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
_KEY_FIELDS = (
    "prefix",
    "secret_sha256",
    "scopes",
    "revoked_at",
    "last_used_at",
    "created_by_id",
    "org__uuid",
    "org__name",
    "org__credit_code",
    "org__status",
    "org__legal_rep_name",
)


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
    # Only what every call needs: compiling and reading the organisation's and owner's
    # dozens of columns was a good part of a request's time (the owner loads when an action
    # needs it).
    key = ApiKey.objects.select_related("org").only(*_KEY_FIELDS).filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.secret_sha256, _digest(secret)):
        return None
    if key.revoked_at is not None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)  # not a write per call
    return key
