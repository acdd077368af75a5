"""System checks for the SMS configuration (``qianshu check``, ``qianshu check --deploy``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.core.exceptions import ImproperlyConfigured

from qianshu.notifications.sms import HttpSmsBackend, backend_class


@register()
def check_sms_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        backend_class(settings.QIANSHU_SMS_BACKEND)
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="Set QIANSHU_SMS_BACKEND to console, file or http.",
                id="qianshu.notifications.E002",
            )
        ]
    return []


# A deployment check: the http backend is the default outside development, and development
# tools (test settings, makemigrations) must keep working without a gateway.
@register(deploy=True)
def check_sms_gateway(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        cls = backend_class(settings.QIANSHU_SMS_BACKEND)
    except ImproperlyConfigured:
        return []  # Reported as E002.
    if cls is not HttpSmsBackend:
        return []
    url = settings.QIANSHU_SMS_GATEWAY_URL
    missing = [
        name
        for name, value in (
            ("QIANSHU_SMS_GATEWAY_URL", url),
            ("QIANSHU_SMS_GATEWAY_SECRET", settings.QIANSHU_SMS_GATEWAY_SECRET),
        )
        if not value
    ]
    if missing:
        return [
            Error(
                f"QIANSHU_SMS_BACKEND is 'http' but {' and '.join(missing)} not set: "
                "no SMS (login codes, signing links) can be sent.",
                hint="Configure the SMS gateway, or set QIANSHU_SMS_BACKEND to console or file.",
                id="qianshu.notifications.E001",
            )
        ]
    if urlparse(url).scheme not in ("http", "https"):
        return [
            Error(
                f"QIANSHU_SMS_GATEWAY_URL {url!r} is not an http:// or https:// URL.",
                id="qianshu.notifications.E001",
            )
        ]
    return []
