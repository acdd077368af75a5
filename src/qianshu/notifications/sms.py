"""SMS backends, chosen by ``settings.QIANSHU_SMS_BACKEND``.

- ``console``: prints each message to standard output (development).
- ``file``: appends one JSON line per message to ``QIANSHU_SMS_FILE`` (development, tests).
- ``http``: the production adapter for an SMS gateway, see ``HttpSmsBackend``.
- a dotted path to an ``SmsBackend`` subclass, for a gateway that needs its own adapter.

A backend raises ``SmsError`` when the message was not accepted; the outbox records the error
and retries later.
"""

from __future__ import annotations

import abc
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from qianshu.core.gateways import (
    GatewayConfigError,
    GatewayError,
    check_gateway,
    json_object,
    sign_request,
    signed_post,
)

__all__ = [
    "BACKENDS",
    "ConsoleSmsBackend",
    "FileSmsBackend",
    "HttpSmsBackend",
    "SmsBackend",
    "SmsError",
    "get_sms_backend",
    "sign_request",
]

_MAX_RESPONSE_BYTES = 64 * 1024


class SmsError(Exception):
    """The SMS was not accepted (gateway error, timeout, unreachable, misconfigured)."""


class SmsBackend(abc.ABC):
    @abc.abstractmethod
    def send(self, *, phone: str, text: str, message_id: str) -> str:
        """Hand one SMS over; return the provider's message id ('' if none).

        ``message_id`` is the outbox message's UUID, the same on every retry of the message.
        Raise ``SmsError`` if the message was not accepted.
        """


class ConsoleSmsBackend(SmsBackend):
    """Prints each message, like Django's console e-mail backend."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def send(self, *, phone: str, text: str, message_id: str) -> str:
        stream = self.stream or sys.stdout
        stream.write(f"[SMS {message_id}] to {phone}: {text}\n")
        stream.flush()
        return ""


class FileSmsBackend(SmsBackend):
    """Appends ``{"time", "phone", "text", "message_id"}`` JSON lines to a file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def send(self, *, phone: str, text: str, message_id: str) -> str:
        line = json.dumps(
            {
                "time": datetime.now(UTC).isoformat(),
                "phone": phone,
                "text": text,
                "message_id": message_id,
            },
            ensure_ascii=False,
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One write of a short line in append mode: concurrent workers never interleave.
            with self.path.open("a", encoding="utf-8") as file:
                file.write(line + "\n")
        except OSError as exc:
            raise SmsError(f"cannot write {self.path}: {exc}") from exc
        return ""


class HttpSmsBackend(SmsBackend):
    """Production adapter: hands each SMS to an HTTP gateway that talks to the carriers.

    Gateway contract (what the receiving service must implement)::

        POST <QIANSHU_SMS_GATEWAY_URL>
        Content-Type: application/json; charset=utf-8
        X-Qianshu-Timestamp: <Unix time in seconds>
        X-Qianshu-Signature: sha256=<hex HMAC-SHA256(QIANSHU_SMS_GATEWAY_SECRET,
                                                     timestamp + "." + raw request body)>

        {"phone": "13800138000", "text": "【签署】您的登录验证码为 …", "message_id": "<uuid>"}

    The receiver must recompute the signature over the raw body bytes and compare it in
    constant time, and should refuse timestamps more than a few minutes off. ``text`` is the
    complete SMS, signature (``QIANSHU_SMS_SIGNATURE``) included. ``message_id`` is the same on
    every retry of one message: use it to drop duplicates, since a timeout here after the
    gateway accepted the message leads to a retry.

    Any 2xx answer means accepted; a JSON answer may carry ``{"id": "<gateway message id>"}``,
    which is stored with the message. Any other status (redirects included), a timeout
    (``QIANSHU_SMS_GATEWAY_TIMEOUT`` seconds) or a network error is a failure, retried with
    exponential backoff.
    """

    def __init__(self, url: str, secret: str, *, timeout: float = 10.0) -> None:
        try:
            check_gateway(
                url,
                secret,
                url_setting="QIANSHU_SMS_GATEWAY_URL",
                key_setting="QIANSHU_SMS_GATEWAY_SECRET",
            )
        except GatewayConfigError as exc:
            raise SmsError(f"the http SMS backend: {exc}") from exc
        self.url = url
        self.secret = secret
        self.timeout = timeout

    def send(self, *, phone: str, text: str, message_id: str) -> str:
        payload = {"phone": phone, "text": text, "message_id": message_id}
        try:
            answer = signed_post(
                self.url, self.secret, payload, timeout=self.timeout, user_agent="Qianshu-SMS/1"
            )
        except GatewayError as exc:
            raise SmsError(f"SMS {exc}") from exc
        return _provider_id(answer)


def _provider_id(answer: bytes) -> str:
    data = json_object(answer)
    if data is not None and isinstance(data.get("id"), str | int):
        return str(data["id"])[:255]
    return ""


BACKENDS: dict[str, type[SmsBackend]] = {
    "console": ConsoleSmsBackend,
    "file": FileSmsBackend,
    "http": HttpSmsBackend,
}


def backend_class(name: str) -> type[SmsBackend]:
    """The backend class for a ``QIANSHU_SMS_BACKEND`` value; ``ImproperlyConfigured`` if none."""
    if name in BACKENDS:
        return BACKENDS[name]
    if "." in name:
        try:
            cls = import_string(name)
        except ImportError as exc:
            raise ImproperlyConfigured(f"QIANSHU_SMS_BACKEND {name!r}: {exc}") from exc
        if isinstance(cls, type) and issubclass(cls, SmsBackend):
            return cls
    raise ImproperlyConfigured(
        f"QIANSHU_SMS_BACKEND is {name!r}: use console, file, http "
        "or the dotted path of an SmsBackend subclass"
    )


def get_sms_backend() -> SmsBackend:
    """A backend built from the current settings (cheap; built per delivery)."""
    name = settings.QIANSHU_SMS_BACKEND
    cls = backend_class(name)
    if cls is ConsoleSmsBackend:
        return ConsoleSmsBackend()
    if cls is FileSmsBackend:
        return FileSmsBackend(settings.QIANSHU_SMS_FILE)
    if cls is HttpSmsBackend:
        return HttpSmsBackend(
            settings.QIANSHU_SMS_GATEWAY_URL,
            settings.QIANSHU_SMS_GATEWAY_SECRET,
            timeout=settings.QIANSHU_SMS_GATEWAY_TIMEOUT,
        )
    return cls()
