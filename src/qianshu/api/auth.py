"""Who calls: the organisation's API key in ``Authorization: Bearer``, its scopes and its
rate limit (per key, per minute, shared by every web process).

A key found in the database is remembered by the web process for :data:`KEY_CACHE_SECONDS`
(keyed by the SHA-256 of the whole token, never the token itself), so that a busy client
does not pay for the lookup on every call. Revocation therefore takes effect at once in the
process that revoked the key (the cache drops it when the row is saved) and within
:data:`KEY_CACHE_SECONDS` in every other process. Each request gets its own copy of the
remembered key and organisation: nothing one request does to them is seen by another.
"""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest
from ninja.security import HttpBearer

from qianshu.api import ratelimit
from qianshu.api.errors import RateLimited, ScopeMissing
from qianshu.api.keys import find_key
from qianshu.api.models import ApiKey
from qianshu.core.meta import RequestMeta, Source, request_meta

KEY_CACHE_SECONDS = 5.0
_CACHE_SIZE = 1024
_cache: dict[str, tuple[float, ApiKey]] = {}
_lock = threading.Lock()


def _clock() -> float:
    return time.monotonic()


def _copy(key: ApiKey) -> ApiKey:
    mine = copy.copy(key)  # its own _state and related-object cache (Model.__getstate__)
    if "org" in key._state.fields_cache:
        mine.org = copy.copy(key.org)
    return mine


def cached_key(token: str) -> ApiKey | None:
    """:func:`qianshu.api.keys.find_key`, remembered for :data:`KEY_CACHE_SECONDS`."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    now = _clock()
    hit = _cache.get(digest)
    if hit is not None and hit[0] > now:
        return _copy(hit[1])
    key = find_key(token)
    with _lock:
        if key is None:
            _cache.pop(digest, None)
            return None
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        _cache[digest] = (now + KEY_CACHE_SECONDS, key)
    return _copy(key)


def forget_key(key_id: int) -> None:
    """Drop a key from this process's cache (it was revoked, changed or deleted)."""
    with _lock:
        for digest, (_until, key) in list(_cache.items()):
            if key.pk == key_id:
                del _cache[digest]


def forget_all() -> None:
    with _lock:
        _cache.clear()


def _key_changed(sender: type[ApiKey], instance: ApiKey, **kwargs: Any) -> None:
    forget_key(instance.pk)
    # Again after commit: a request in between may have cached the row as it was.
    transaction.on_commit(lambda: forget_key(instance.pk), robust=True)


post_save.connect(_key_changed, sender=ApiKey, dispatch_uid="qianshu.api.auth.key_changed")
post_delete.connect(_key_changed, sender=ApiKey, dispatch_uid="qianshu.api.auth.key_deleted")


class KeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        key = cached_key(token)
        if key is None:
            return None
        # By prefix, not row id: ids of a rolled-back key can come back (SQLite), prefixes not.
        retry_after = ratelimit.hit(f"api:{key.prefix}", settings.QIANSHU_API_PER_MINUTE)
        request.api_key = key  # type: ignore[attr-defined]  # the call log reads it
        if retry_after:
            raise RateLimited(retry_after)
        return key


def current_key(request: HttpRequest) -> ApiKey:
    """The authenticated key (every route requires one)."""
    key: Any = getattr(request, "auth", None)
    assert isinstance(key, ApiKey)
    return key


def charge(key: ApiKey, calls: int) -> None:
    """Count ``calls`` more calls of ``key`` against its per-minute limit (the steps of a
    batch call beyond the one its request counted): :class:`RateLimited` when they do not fit
    (nothing of the call is done then)."""
    if calls > 0:
        retry_after = ratelimit.hit(f"api:{key.prefix}", settings.QIANSHU_API_PER_MINUTE, calls)
        if retry_after:
            raise RateLimited(retry_after)


def caller(request: HttpRequest, scope: str) -> ApiKey:
    """The authenticated key, if it holds ``scope`` (:class:`ScopeMissing` otherwise)."""
    key = current_key(request)
    if not key.allows(scope):
        raise ScopeMissing()
    return key


def api_meta(request: HttpRequest) -> RequestMeta:
    return request_meta(request, Source.API)
