"""The envelope's public check page, which the evidence report's QR code opens (issue 13).

Anyone holding the report may check whether a PDF is one of this envelope's completed
documents: the page shows the envelope's number, status and completion time (no names, no
phone numbers), takes a file like 文档验证 does (size, rate limit, limited child process, not
kept), says whether its SHA-256 is that of a completed document, and shows the signatures.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from qianshu.envelopes.models import Envelope
from qianshu.verification.views import checked_upload, result_context


def _envelope(envelope_uuid: uuid.UUID) -> Envelope:
    envelope = Envelope.objects.filter(uuid=envelope_uuid, kind=Envelope.Kind.STANDARD).first()
    if envelope is None or envelope.sent_at is None:
        raise Http404
    return envelope


@require_http_methods(["GET", "POST"])
def check_view(request: HttpRequest, envelope_uuid: uuid.UUID) -> HttpResponse:
    """Is this file one of the envelope's completed documents?"""
    envelope = _envelope(envelope_uuid)
    documents = list(envelope.documents.order_by("position", "id"))

    def page(request: HttpRequest, status: int = 200, **context: Any) -> HttpResponse:
        return render(
            request,
            "envelopes/check.html",
            {"envelope": envelope, "document_count": len(documents), "nav": "verify", **context},
            status=status,
        )

    if request.method == "GET":
        return page(request)
    checked = checked_upload(request, page)
    if isinstance(checked, HttpResponse):
        return checked
    data, name = checked
    digest = hashlib.sha256(data).hexdigest()
    completed = envelope.status in (Envelope.Status.COMPLETED, Envelope.Status.VOIDED)
    match = next((d for d in documents if completed and d.current_id == digest), None)
    return page(request, match=match, checked=True, **result_context(data, name))
