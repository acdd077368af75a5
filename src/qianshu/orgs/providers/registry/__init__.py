"""The configured business-registry provider (``QIANSHU_REGISTRY_PROVIDER``: ``none`` |
``sandbox`` | ``http``).

``none`` (the default outside development) means no registry is connected: no organisation is
verified by its method alone, every one goes to an operator (人工审核) with its licence.
"""

from __future__ import annotations

from django.conf import settings

from qianshu.core.gateways import GatewayConfigError
from qianshu.orgs.providers.registry.base import (
    CheckResult,
    Company,
    Failed,
    Passed,
    ProviderError,
    RegistryProvider,
)
from qianshu.orgs.providers.registry.http import HttpRegistryProvider
from qianshu.orgs.providers.registry.sandbox import SandboxRegistryProvider

__all__ = [
    "NONE",
    "PROVIDERS",
    "CheckResult",
    "Company",
    "Failed",
    "Passed",
    "ProviderError",
    "RegistryProvider",
    "RegistryUnavailable",
    "get_registry_provider",
    "registry_configured",
    "sandbox_allowed",
]

NONE = "none"
PROVIDERS = (NONE, "sandbox", "http")


class RegistryUnavailable(Exception):
    """The configured provider cannot be used (sandbox in production, missing gateway, typo)."""


def sandbox_allowed() -> bool:
    """The sandbox confirms almost any organisation: development only, unless allowed."""
    return bool(settings.DEBUG or settings.QIANSHU_REGISTRY_SANDBOX_ALLOWED)


def registry_configured() -> bool:
    """Whether a registry is meant to answer (``none`` sends everyone to an operator)."""
    return settings.QIANSHU_REGISTRY_PROVIDER != NONE


def get_registry_provider() -> RegistryProvider | None:
    """The provider named by the settings, None for ``none``; raises ``RegistryUnavailable``
    when misconfigured."""
    name = settings.QIANSHU_REGISTRY_PROVIDER
    if name == NONE:
        return None
    if name == "sandbox":
        if not sandbox_allowed():
            raise RegistryUnavailable(
                "the sandbox registry provider is refused when QIANSHU_DEBUG is off "
                "(set QIANSHU_REGISTRY_SANDBOX_ALLOWED=1 for a staging system)"
            )
        return SandboxRegistryProvider()
    if name == "http":
        try:
            return HttpRegistryProvider(
                settings.QIANSHU_REGISTRY_GATEWAY_URL,
                settings.QIANSHU_REGISTRY_GATEWAY_SECRET,
                timeout=settings.QIANSHU_REGISTRY_GATEWAY_TIMEOUT,
            )
        except GatewayConfigError as exc:
            raise RegistryUnavailable(str(exc)) from exc
    raise RegistryUnavailable(
        f"unknown QIANSHU_REGISTRY_PROVIDER {name!r}; use none, sandbox or http"
    )
