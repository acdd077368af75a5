"""What the envelope views share: reading a posted value, from a form or a JSON body."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _

MAX_BODY_BYTES = 4 * 1024 * 1024  # a drawn signature is at most 2 MB, as base64 ~2.7 MB


class BadInput(Exception):
    """The request body cannot be used; ``str()`` is the message for the signer."""


def invalid() -> BadInput:
    return BadInput(_("提交无效，请刷新页面后重试。"))


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The JSON object posted (at most ``MAX_BODY_BYTES``), or :class:`BadInput`."""
    if len(request.body) > MAX_BODY_BYTES:
        raise BadInput(_("提交的内容过大，请清屏后重新书写签名。"))
    try:
        payload = json.loads(request.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise invalid() from None
    if not isinstance(payload, dict):
        raise invalid()
    return payload


def posted(request: HttpRequest, name: str) -> str:
    """A text value posted as ``name``: a form field, or a key of a JSON body (the signing page
    posts JSON); empty when missing, not text, or the body is unusable."""
    if request.content_type == "application/json":
        try:
            value = json_body(request).get(name, "")
        except BadInput:
            return ""
        return value if isinstance(value, str) else ""
    return request.POST.get(name, "")
