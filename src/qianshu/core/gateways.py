"""Signed JSON calls to the external gateways we cannot reach ourselves (SMS, identity, bank).

Every gateway speaks the same small protocol: ``POST`` a JSON body with
``X-Qianshu-Timestamp: <Unix seconds>`` and
``X-Qianshu-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>``. The
receiver recomputes the signature over the raw bytes, compares it in constant time and refuses
stale timestamps. Redirects are never followed (a gateway that redirects is misconfigured, and
following would re-send or drop the body).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

MAX_RESPONSE_BYTES = 64 * 1024


class GatewayConfigError(Exception):
    """A gateway is configured without a URL or secret, or with a non-http(s) URL."""


class GatewayError(Exception):
    """A call failed. ``retryable``: network trouble or a 5xx; not: a 4xx or other status."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


def sign_request(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Qianshu-Signature`` value: ``sha256=`` + hex HMAC-SHA256 of ``timestamp.body``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def check_gateway(url: str, secret: str, *, url_setting: str, key_setting: str) -> str:
    """The URL without a trailing slash, or ``GatewayConfigError`` naming the settings."""
    if not url or not secret:
        raise GatewayConfigError(f"this gateway needs {url_setting} and {key_setting}")
    if urlparse(url).scheme not in ("http", "https"):
        raise GatewayConfigError(f"{url_setting} must be an http:// or https:// URL")
    return url.rstrip("/")


def signed_post(
    url: str,
    secret: str,
    payload: Mapping[str, Any],
    *,
    timeout: float,
    user_agent: str,
    request_id: str = "",
) -> bytes:
    """POST ``payload`` as signed JSON and return the 2xx answer's body (at most 64 KiB).

    Raises ``GatewayError`` for anything else.
    """
    body = json.dumps(payload, ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": user_agent,
        "X-Qianshu-Timestamp": timestamp,
        "X-Qianshu-Signature": sign_request(secret, timestamp, body),
    }
    if request_id:
        headers["X-Qianshu-Request-Id"] = request_id
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310 - callers check the scheme with check_gateway
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=timeout) as response:
            status = response.status
            answer: bytes = response.read(MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as exc:
        detail = _snippet(exc.read(512)) if exc.fp is not None else ""
        exc.close()
        raise GatewayError(
            f"gateway answered HTTP {exc.code} {detail}".rstrip(),
            retryable=exc.code >= 500,
            status=exc.code,
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise GatewayError(f"gateway unreachable: {reason}", retryable=True) from exc
    if not 200 <= status < 300:
        raise GatewayError(
            f"gateway answered HTTP {status} {_snippet(answer)}".rstrip(),
            retryable=False,
            status=status,
        )
    return answer


def json_object(answer: bytes) -> dict[str, Any] | None:
    """The answer as a JSON object, or None when it is not one."""
    try:
        data = json.loads(answer)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _snippet(data: bytes) -> str:
    return data[:200].decode("utf-8", "replace").strip()
