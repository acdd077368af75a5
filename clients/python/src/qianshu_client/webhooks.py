"""Checking a webhook message in the receiving system (Standard Webhooks scheme).

``verify_webhook(secret, headers, body)`` returns the parsed payload when one of the
``webhook-signature`` entries is the HMAC-SHA256 of ``{webhook-id}.{webhook-timestamp}.{body}``
under the secret and the time-stamp is within ``tolerance`` seconds of now; otherwise it
raises :class:`WebhookVerificationError`. Deduplicate on ``webhook-id``: a message may arrive
more than once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

PREFIX = "whsec_"


class WebhookVerificationError(Exception):
    pass


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> dict[str, Any]:
    text = body.decode() if isinstance(body, bytes) else body
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get("webhook-id", "")
    stamp = lower.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdigit():
        raise WebhookVerificationError("missing webhook-id or webhook-timestamp")
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        raise WebhookVerificationError("the message is too old or too new")
    key = base64.b64decode(secret.removeprefix(PREFIX))
    digest = hmac.new(key, f"{msg_id}.{stamp}.{text}".encode(), hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    for candidate in lower.get("webhook-signature", "").split():
        if hmac.compare_digest(candidate.encode(), expected.encode()):
            payload: dict[str, Any] = json.loads(text)
            return payload
    raise WebhookVerificationError("no signature matches")
