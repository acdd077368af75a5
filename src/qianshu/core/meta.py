"""Where an action was asked for: the request data an action may use, and nothing more.

Actions (``<app>/actions/``) never see ``HttpRequest``: a view builds a :class:`RequestMeta`
once per request (:func:`request_meta`) and hands it on, the API does the same with
``source=API``, and tasks and commands use :data:`TASK` / :data:`COMMAND`. The audit trails
store the address and user agent from it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.http import HttpRequest

USER_AGENT_MAX = 300


class Source(enum.StrEnum):
    WEB = "web"
    API = "api"
    TASK = "task"
    COMMAND = "command"


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """The client address (None when there is no client), its user agent (shortened), the
    channel the intent came through, and the language the client reads (for the messages an
    action sends it; empty: the site default)."""

    ip: str | None = None
    user_agent: str = ""
    source: Source = Source.WEB
    language: str = ""


TASK = RequestMeta(source=Source.TASK)
COMMAND = RequestMeta(source=Source.COMMAND)


def client_ip(request: HttpRequest) -> str | None:
    """The client address. Behind a proxy, set QIANSHU_TRUSTED_PROXY_HOPS so the right
    X-Forwarded-For entry is taken (never the client-controlled leftmost one)."""
    from django.conf import settings

    hops = getattr(settings, "QIANSHU_TRUSTED_PROXY_HOPS", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        parts = [p.strip() for p in forwarded.split(",") if p.strip()]
        if len(parts) >= hops:
            return parts[-hops]
    return request.META.get("REMOTE_ADDR") or None


def request_meta(request: HttpRequest, source: Source = Source.WEB) -> RequestMeta:
    """The request's :class:`RequestMeta`, built once and kept on the request."""
    cached = getattr(request, "_qianshu_meta", None)
    if isinstance(cached, RequestMeta) and cached.source == source:
        return cached
    meta = RequestMeta(
        ip=client_ip(request),
        user_agent=str(request.META.get("HTTP_USER_AGENT", ""))[:USER_AGENT_MAX],
        source=source,
        language=getattr(request, "LANGUAGE_CODE", "") or "",
    )
    request._qianshu_meta = meta  # type: ignore[attr-defined]
    return meta
