"""Errors of the open API (all :class:`qianshu.core.errors.UserError`, answered as RFC 9457
problem details by :mod:`qianshu.api.problems`)."""

from __future__ import annotations

import uuid

from django.utils.translation import gettext_noop

from qianshu.core.errors import UserError


class BadScopes(UserError):
    code = "bad_scopes"
    default_message = gettext_noop("请至少选择一个权限范围。")
    field = "scopes"


class Unauthenticated(UserError):
    code = "unauthenticated"
    default_message = gettext_noop("缺少有效的 API 密钥（Authorization: Bearer <key>）。")
    status = 401


class ScopeMissing(UserError):
    code = "scope_missing"
    default_message = gettext_noop("该 API 密钥没有这项权限。")
    status = 403


class RateLimited(UserError):
    code = "rate_limited"
    default_message = gettext_noop("请求过于频繁，请稍后再试。")
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after


class IdempotencyConflict(UserError):
    code = "idempotency_conflict"
    default_message = gettext_noop("同一个 Idempotency-Key 已用于另一个请求。")
    status = 409


class IdempotencyInProgress(UserError):
    code = "idempotency_in_progress"
    default_message = gettext_noop("使用该 Idempotency-Key 的请求仍在处理中，请稍后重试。")
    status = 409


class NotFound(UserError):
    code = "not_found"
    default_message = gettext_noop("找不到该资源。")
    status = 404


def uuid_or_404(value: str, message: str = "") -> str:
    """``value`` as a canonical UUID, or :class:`NotFound` (a malformed id is a missing one)."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound(message) from None
