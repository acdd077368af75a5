"""System checks of the identity configuration (ids ``qianshu.identity.E0xx``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from qianshu.identity.providers import PROVIDERS, sandbox_allowed


@register()
def check_identity_provider(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    name = settings.QIANSHU_IDENTITY_PROVIDER
    if name not in PROVIDERS:
        return [
            Error(
                f"QIANSHU_IDENTITY_PROVIDER={name!r} is not a known identity provider.",
                hint="Use sandbox (development) or http (the identity gateway).",
                id="qianshu.identity.E002",
            )
        ]
    if name == "sandbox" and not sandbox_allowed():
        return [
            Error(
                "The sandbox identity provider confirms anybody's identity and is refused "
                "when QIANSHU_DEBUG is off.",
                hint="Set QIANSHU_IDENTITY_PROVIDER=http with the gateway URL and secret, or "
                "QIANSHU_IDENTITY_SANDBOX_ALLOWED=1 on a test system.",
                id="qianshu.identity.E001",
            )
        ]
    return []


# A deployment check, like the SMS gateway's: development tools keep working without one.
@register(deploy=True)
def check_identity_gateway(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.QIANSHU_IDENTITY_PROVIDER != "http":
        return []
    missing = [
        name
        for name in ("QIANSHU_IDENTITY_GATEWAY_URL", "QIANSHU_IDENTITY_GATEWAY_SECRET")
        if not getattr(settings, name)
    ]
    if missing:
        return [
            Error(
                f"The http identity provider needs {' and '.join(missing)}.",
                id="qianshu.identity.E003",
            )
        ]
    return []
