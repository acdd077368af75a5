"""The configured identity provider (``QIANSHU_IDENTITY_PROVIDER``: ``sandbox`` | ``http``)."""

from __future__ import annotations

from django.conf import settings

from qianshu.core.gateways import GatewayConfigError
from qianshu.identity.providers.base import (
    CheckResult,
    FaceSession,
    Failed,
    IdentityProvider,
    Passed,
    Person,
    ProviderError,
)
from qianshu.identity.providers.http import HttpProvider
from qianshu.identity.providers.sandbox import SandboxProvider

__all__ = [
    "PROVIDERS",
    "CheckResult",
    "FaceSession",
    "Failed",
    "IdentityProvider",
    "Passed",
    "Person",
    "ProviderError",
    "ProviderUnavailable",
    "get_provider",
    "sandbox_allowed",
]

PROVIDERS = ("sandbox", "http")


class ProviderUnavailable(Exception):
    """The configured provider cannot be used (sandbox in production, missing gateway, typo)."""


def sandbox_allowed() -> bool:
    """The sandbox confirms anybody: development only, unless explicitly allowed."""
    return bool(settings.DEBUG or settings.QIANSHU_IDENTITY_SANDBOX_ALLOWED)


def get_provider() -> IdentityProvider:
    """The provider named by the settings; raises ``ProviderUnavailable`` when misconfigured."""
    name = settings.QIANSHU_IDENTITY_PROVIDER
    if name == "sandbox":
        if not sandbox_allowed():
            raise ProviderUnavailable(
                "the sandbox identity provider is refused when QIANSHU_DEBUG is off "
                "(set QIANSHU_IDENTITY_SANDBOX_ALLOWED=1 for a staging system)"
            )
        return SandboxProvider()
    if name == "http":
        try:
            return HttpProvider(
                settings.QIANSHU_IDENTITY_GATEWAY_URL,
                settings.QIANSHU_IDENTITY_GATEWAY_SECRET,
                timeout=settings.QIANSHU_IDENTITY_GATEWAY_TIMEOUT,
            )
        except GatewayConfigError as exc:
            raise ProviderUnavailable(str(exc)) from exc
    raise ProviderUnavailable(f"unknown QIANSHU_IDENTITY_PROVIDER {name!r}; use sandbox or http")
