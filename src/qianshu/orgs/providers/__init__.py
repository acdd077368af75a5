"""The configured bank provider (``QIANSHU_BANK_PROVIDER``: ``sandbox`` | ``http``)."""

from __future__ import annotations

from django.conf import settings

from qianshu.orgs.providers.base import (
    BankAccount,
    BankError,
    BankProvider,
    Paid,
    PayResult,
    Refused,
)
from qianshu.orgs.providers.http import BankGatewayConfigError, HttpBankProvider
from qianshu.orgs.providers.sandbox import SandboxBankProvider

__all__ = [
    "PROVIDERS",
    "BankAccount",
    "BankError",
    "BankProvider",
    "BankUnavailable",
    "Paid",
    "PayResult",
    "Refused",
    "get_bank_provider",
    "sandbox_active",
    "sandbox_allowed",
]

PROVIDERS = ("sandbox", "http")


class BankUnavailable(Exception):
    """The configured provider cannot be used (sandbox in production, missing gateway, typo)."""


def sandbox_allowed() -> bool:
    """The sandbox pays nothing and confirms anything: development only, unless allowed."""
    return bool(settings.DEBUG or settings.QIANSHU_BANK_SANDBOX_ALLOWED)


def sandbox_active() -> bool:
    """Whether the sandbox is the provider in use (its 沙箱 page is shown then)."""
    return settings.QIANSHU_BANK_PROVIDER == "sandbox" and sandbox_allowed()


def get_bank_provider() -> BankProvider:
    """The provider named by the settings; raises ``BankUnavailable`` when misconfigured."""
    name = settings.QIANSHU_BANK_PROVIDER
    if name == "sandbox":
        if not sandbox_allowed():
            raise BankUnavailable(
                "the sandbox bank provider is refused when QIANSHU_DEBUG is off "
                "(set QIANSHU_BANK_SANDBOX_ALLOWED=1 for a staging system)"
            )
        return SandboxBankProvider()
    if name == "http":
        try:
            return HttpBankProvider(
                settings.QIANSHU_BANK_GATEWAY_URL,
                settings.QIANSHU_BANK_GATEWAY_SECRET,
                timeout=settings.QIANSHU_BANK_GATEWAY_TIMEOUT,
            )
        except BankGatewayConfigError as exc:
            raise BankUnavailable(str(exc)) from exc
    raise BankUnavailable(f"unknown QIANSHU_BANK_PROVIDER {name!r}; use sandbox or http")
