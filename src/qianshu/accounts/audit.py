"""Security events: who did what to an account, from where."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from qianshu.accounts.models import SecurityEvent, User


def client_ip(request: HttpRequest | None) -> str | None:
    """The client address. Behind a proxy, set QIANSHU_TRUSTED_PROXY_HOPS so the right
    X-Forwarded-For entry is taken (never the client-controlled leftmost one)."""
    if request is None:
        return None
    from django.conf import settings

    hops = getattr(settings, "QIANSHU_TRUSTED_PROXY_HOPS", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        parts = [p.strip() for p in forwarded.split(",") if p.strip()]
        if len(parts) >= hops:
            return parts[-hops]
    return request.META.get("REMOTE_ADDR") or None


def user_agent(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    return str(request.META.get("HTTP_USER_AGENT", ""))[:300]


def record_event(
    action: str,
    *,
    user: User | None = None,
    request: HttpRequest | None = None,
    **detail: Any,
) -> SecurityEvent:
    """Append a security event. Call inside the action's transaction."""
    return SecurityEvent.objects.create(
        user=user,
        action=action,
        ip=client_ip(request),
        user_agent=user_agent(request),
        detail=detail,
    )
