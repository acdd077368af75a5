"""Errors as RFC 9457 problem details: ``application/problem+json`` with ``type``, ``title``,
``status``, ``detail`` (in the request's language) and our stable ``code`` — never an HTML
page or a traceback."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from django.http import HttpResponse

CONTENT_TYPE = "application/problem+json"


def problem(status: int, code: str, detail: str, **extra: Any) -> HttpResponse:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = {
        "type": f"urn:qianshu:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **{k: v for k, v in extra.items() if v is not None},
    }
    return HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type=CONTENT_TYPE
    )
