"""Who calls: the organisation's API key in ``Authorization: Bearer``, its scopes and its
rate limit (per key, per minute, shared by every web process)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer

from qianshu.api import ratelimit
from qianshu.api.errors import RateLimited, ScopeMissing
from qianshu.api.keys import find_key
from qianshu.api.models import ApiKey
from qianshu.core.meta import RequestMeta, Source, request_meta


class KeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        key = find_key(token)
        if key is None:
            return None
        retry_after = ratelimit.hit(f"api:{key.pk}", settings.QIANSHU_API_PER_MINUTE)
        request.api_key = key  # type: ignore[attr-defined]  # the call log reads it
        if retry_after:
            raise RateLimited(retry_after)
        return key


def current_key(request: HttpRequest) -> ApiKey:
    """The authenticated key (every route requires one)."""
    key: Any = getattr(request, "auth", None)
    assert isinstance(key, ApiKey)
    return key


def caller(request: HttpRequest, scope: str) -> ApiKey:
    """The authenticated key, if it holds ``scope`` (:class:`ScopeMissing` otherwise)."""
    key = current_key(request)
    if not key.allows(scope):
        raise ScopeMissing()
    return key


def api_meta(request: HttpRequest) -> RequestMeta:
    return request_meta(request, Source.API)
