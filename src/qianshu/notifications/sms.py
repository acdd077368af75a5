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
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

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


def sign_request(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Qianshu-Signature`` value: ``sha256=`` + hex HMAC-SHA256 of ``timestamp.body``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A gateway that redirects is misconfigured; following would re-send or drop the body.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


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
        if not url or not secret:
            raise SmsError(
                "the http SMS backend needs QIANSHU_SMS_GATEWAY_URL and QIANSHU_SMS_GATEWAY_SECRET"
            )
        if urlparse(url).scheme not in ("http", "https"):
            raise SmsError("QIANSHU_SMS_GATEWAY_URL must be an http:// or https:// URL")
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirects)

    def send(self, *, phone: str, text: str, message_id: str) -> str:
        body = json.dumps(
            {"phone": phone, "text": text, "message_id": message_id}, ensure_ascii=False
        ).encode()
        timestamp = str(int(time.time()))
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Qianshu-SMS/1",
                "X-Qianshu-Timestamp": timestamp,
                "X-Qianshu-Signature": sign_request(self.secret, timestamp, body),
            },
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = response.status
                answer = response.read(_MAX_RESPONSE_BYTES)
        except urllib.error.HTTPError as exc:
            detail = _snippet(exc.read(512)) if exc.fp is not None else ""
            exc.close()
            raise SmsError(f"SMS gateway answered HTTP {exc.code} {detail}".rstrip()) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SmsError(f"SMS gateway unreachable: {reason}") from exc
        if not 200 <= status < 300:
            raise SmsError(f"SMS gateway answered HTTP {status} {_snippet(answer)}".rstrip())
        return _provider_id(answer)


def _snippet(data: bytes) -> str:
    return data[:200].decode("utf-8", "replace").strip()


def _provider_id(answer: bytes) -> str:
    try:
        data = json.loads(answer)
    except ValueError:
        return ""
    if isinstance(data, dict) and isinstance(data.get("id"), str | int):
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
