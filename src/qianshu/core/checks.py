"""System checks for misconfiguration (ids qianshu.E0xx / W0xx)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "testserver"}


@register()
def check_security(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
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


@register(deploy=True)
def check_https_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``qianshu check --deploy``: with an https public URL, HSTS and the http→https redirect
    should be on (the reverse proxy may redirect instead; then silence W021)."""
    problems: list[CheckMessage] = []
    https = settings.PUBLIC_URL.startswith("https://")
    if https and settings.QIANSHU_HSTS_SECONDS <= 0:
        problems.append(
            Warning(
                "QIANSHU_PUBLIC_URL is https but QIANSHU_HSTS_SECONDS is 0: browsers may still "
                "be led to plain http by an attacker on the network.",
                hint="Set QIANSHU_HSTS_SECONDS (e.g. 31536000) once https works for good.",
                id="qianshu.W020",
            )
        )
    if https and not settings.QIANSHU_SSL_REDIRECT:
        problems.append(
            Warning(
                "QIANSHU_PUBLIC_URL is https but QIANSHU_SSL_REDIRECT is off: requests that "
                "arrive over plain http are answered over plain http.",
                hint="Set QIANSHU_SSL_REDIRECT=1, or redirect in the reverse proxy and add "
                "qianshu.W021 to QIANSHU_SILENCED_CHECKS.",
                id="qianshu.W021",
            )
        )
    if not https and (settings.QIANSHU_SSL_REDIRECT or settings.QIANSHU_HSTS_SECONDS > 0):
        problems.append(
            Warning(
                "QIANSHU_SSL_REDIRECT or QIANSHU_HSTS_SECONDS is set but QIANSHU_PUBLIC_URL is "
                "not https: HSTS is not sent, and the redirect leads away from the public URL.",
                hint="Use an https QIANSHU_PUBLIC_URL, or turn these settings off.",
                id="qianshu.W022",
            )
        )
    return problems
