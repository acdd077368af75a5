"""System checks of the organisation configuration (ids ``qianshu.orgs.E0xx`` / ``W0xx``).

Registered from ``OrgsConfig.ready`` (``from qianshu.orgs import checks``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from qianshu.orgs.providers import PROVIDERS, registry, sandbox_allowed


@register()
def check_bank_provider(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    name = settings.QIANSHU_BANK_PROVIDER
    if name not in PROVIDERS:
        return [
            Error(
                f"QIANSHU_BANK_PROVIDER={name!r} is not a known bank provider.",
                hint="Use sandbox (development) or http (the bank gateway).",
                id="qianshu.orgs.E002",
            )
        ]
    if name == "sandbox" and not sandbox_allowed():
        return [
            Error(
                "The sandbox bank provider pays nothing and confirms any payment; it is refused "
                "when QIANSHU_DEBUG is off.",
                hint="Set QIANSHU_BANK_PROVIDER=http with the gateway URL and secret, or "
                "QIANSHU_BANK_SANDBOX_ALLOWED=1 on a test system.",
                id="qianshu.orgs.E001",
            )
        ]
    return []


@register()
def check_registry_provider(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    name = settings.QIANSHU_REGISTRY_PROVIDER
    if name not in registry.PROVIDERS:
        return [
            Error(
                f"QIANSHU_REGISTRY_PROVIDER={name!r} is not a known business-registry provider.",
                hint="Use none (every organisation goes to an operator), sandbox (development) "
                "or http (the registry gateway).",
                id="qianshu.orgs.E004",
            )
        ]
    if name == "sandbox" and not registry.sandbox_allowed():
        return [
            Error(
                "The sandbox business registry confirms almost any organisation; it is refused "
                "when QIANSHU_DEBUG is off.",
                hint="Set QIANSHU_REGISTRY_PROVIDER=http with the gateway URL and secret, none "
                "(operators review every organisation), or QIANSHU_REGISTRY_SANDBOX_ALLOWED=1 "
                "on a test system.",
                id="qianshu.orgs.E005",
            )
        ]
    return []


# Deployment checks, like the identity gateway's: development tools keep working without them.
@register(deploy=True)
def check_bank_gateway(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if settings.QIANSHU_BANK_PROVIDER == "http":
        missing = [
            name
            for name in ("QIANSHU_BANK_GATEWAY_URL", "QIANSHU_BANK_GATEWAY_SECRET")
            if not getattr(settings, name)
        ]
        if missing:
            messages.append(
                Error(
                    f"The http bank provider needs {' and '.join(missing)}.",
                    id="qianshu.orgs.E003",
                )
            )
    platform = (
        settings.QIANSHU_PLATFORM_BANK_NAME,
        settings.QIANSHU_PLATFORM_ACCOUNT_NAME,
        settings.QIANSHU_PLATFORM_ACCOUNT_NUMBER,
    )
    if any(platform) and not all(platform):
        messages.append(
            Warning(
                "The platform's bank account is only partly configured; 我给平台打款 is not "
                "offered until QIANSHU_PLATFORM_BANK_NAME, QIANSHU_PLATFORM_ACCOUNT_NAME and "
                "QIANSHU_PLATFORM_ACCOUNT_NUMBER are all set.",
                id="qianshu.orgs.W001",
            )
        )
    return messages


@register(deploy=True)
def check_registry_gateway(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.QIANSHU_REGISTRY_PROVIDER != "http":
        return []
    missing = [
        name
        for name in ("QIANSHU_REGISTRY_GATEWAY_URL", "QIANSHU_REGISTRY_GATEWAY_SECRET")
        if not getattr(settings, name)
    ]
    if not missing:
        return []
    return [
        Error(
            f"The http business-registry provider needs {' and '.join(missing)}.",
            id="qianshu.orgs.E006",
        )
    ]
