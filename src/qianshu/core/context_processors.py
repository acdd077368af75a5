"""Template context shared by every page of the web shell."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def shell(request: HttpRequest) -> dict[str, object]:
    return {
        "debug_tools": settings.DEBUG,
        # Pages of identity checks say so when the sandbox (no real check) is configured.
        "identity_sandbox": getattr(settings, "QIANSHU_IDENTITY_PROVIDER", "") == "sandbox",
        "current_path": request.get_full_path(),
        "nav": request.resolver_match.namespace if request.resolver_match else "",
    }
