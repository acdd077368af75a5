"""System checks for misconfiguration (ids qianshu.E0xx / W0xx)."""

from __future__ import annotations

from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "testserver"}


@register()
def check_security(app_configs, **kwargs):
    from qianshu.pki.keystores import master_key

    problems: list[CheckMessage] = []
    try:
        master_key()
    except ImproperlyConfigured as exc:
        problems.append(Error(str(exc), id="qianshu.E001"))
    public_host = urlparse(settings.PUBLIC_URL).hostname or ""
    if settings.DEBUG and public_host not in _LOCAL_HOSTS:
        problems.append(
            Error(
                "QIANSHU_DEBUG is on while QIANSHU_PUBLIC_URL names a public host: debug pages "
                "leak secrets. Turn QIANSHU_DEBUG off in production.",
                id="qianshu.E002",
            )
        )
    if not settings.DEBUG and not settings.PUBLIC_URL.startswith("https://"):
        if public_host not in _LOCAL_HOSTS:
            problems.append(
                Warning(
                    "QIANSHU_PUBLIC_URL is not https: sessions and signing links travel in clear.",
                    id="qianshu.W001",
                )
            )
    if settings.QIANSHU_KEYSTORE not in ("software", "pkcs11"):
        problems.append(
            Error("QIANSHU_KEYSTORE must be 'software' or 'pkcs11'.", id="qianshu.E003")
        )
    return problems
