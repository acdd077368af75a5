"""签署详情: an envelope's page (status, documents, parties, audit trail) and the initiator's
actions on it (撤回, 催签, 作废; 修改并重新发起 when it was sent back)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from qianshu.accounts.decorators import login_required
from qianshu.accounts.models import User
from qianshu.core.errors import add_message
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user
from qianshu.envelopes import audit, routing, voiding
from qianshu.envelopes.access import (
    access_envelope_by_uuid,
    access_initiated_by_uuid,
    recipient_for,
    turn_of,
)
from qianshu.envelopes.actions.lifecycle import do_recall, do_remind
from qianshu.envelopes.actions.voiding import do_request_void
from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.models import Envelope, Recipient
from qianshu.envelopes.views.common import posted


def detail_context(envelope: Envelope, user: User) -> dict[str, Any]:
    done, total = routing.progress(envelope)
    recipients = list(
        envelope.recipients.select_related("org", "seal", "acted_by").order_by(
            "routing_order", "id"
        )
    )
    statements = list(envelope.void_statements.order_by("-created_at"))
    events = list(envelope.events.order_by("-seq")[:200])
    for event in events:
        event.label = audit.event_label(event)  # type: ignore[attr-defined]
    # One HMAC per event and two small queries: cheap enough for every view of the page.
    audit_break = audit.check_chain(envelope)
    return {
        "envelope": envelope,
        "nav": "envelopes",
        "documents": list(envelope.documents.order_by("position", "id")),
        "recipients": recipients,
        "events": events,
        "audit_break": audit_break,
        "audit_count": envelope.audit_count,
        "progress": f"{done}/{total}",
        "initiator_label": routing.initiator_label(envelope),
        "initiator_verified": routing.initiator_verified(envelope),
        "my_turn": turn_of(user, envelope),
        "mine": recipient_for(user, envelope),
        "is_initiator": envelope.initiator_id == user.pk,
        "void_statements": statements,
        "open_void": next((s for s in statements if s.is_active()), None),
        "can_void": voiding.can_request_void(envelope, user),
        "returned_by": next((r for r in recipients if r.status == Recipient.Status.RETURNED), None)
        if envelope.is_returned()
        else None,
    }


@require_GET
@login_required
def detail_view(request: HttpRequest, envelope_uuid: str) -> HttpResponse:
    user = current_user(request)
    envelope = access_envelope_by_uuid(user, envelope_uuid)
    if envelope.is_draft():
        return HttpResponseRedirect(reverse("envelopes:edit", args=[envelope.uuid]))
    return render(request, "envelopes/detail.html", detail_context(envelope, user))


@require_POST
@login_required
def recall_view(request: HttpRequest, envelope_uuid: str) -> HttpResponse:
    user = current_user(request)
    envelope = access_initiated_by_uuid(user, envelope_uuid)
    try:
        do_recall(
            envelope, reason=posted(request, "reason")[:300], actor=user, meta=request_meta(request)
        )
    except EnvelopeError as exc:
        add_message(request, exc)
    else:
        messages.success(request, _("已撤回，签署方将收到通知。"))
    return HttpResponseRedirect(envelope.get_absolute_url())


@require_POST
@login_required
def remind_view(request: HttpRequest, envelope_uuid: str) -> HttpResponse:
    user = current_user(request)
    envelope = access_initiated_by_uuid(user, envelope_uuid)
    try:
        sent = do_remind(envelope, actor=user, meta=request_meta(request))
    except EnvelopeError as exc:
        add_message(request, exc)
    else:
        messages.success(
            request,
            ngettext("已提醒 %(n)d 位签署方。", "已提醒 %(n)d 位签署方。", sent) % {"n": sent},
        )
    return HttpResponseRedirect(envelope.get_absolute_url())


@login_required
def void_view(request: HttpRequest, envelope_uuid: str) -> HttpResponse:
    """作废: the initiator of a completed envelope starts a void statement all parties sign."""
    user = current_user(request)
    envelope = access_initiated_by_uuid(user, envelope_uuid)
    error = ""
    reason = ""
    if request.method == "POST":
        reason = posted(request, "reason")
        try:
            statement = do_request_void(envelope, reason, actor=user, meta=request_meta(request))
        except EnvelopeError as exc:
            error = str(exc)
        else:
            messages.success(request, _("作废声明已发起，各方签署后原文件将作废。"))
            return HttpResponseRedirect(statement.get_absolute_url())
    context = detail_context(envelope, user)
    context.update({"error": error, "reason": reason})
    return render(request, "envelopes/void.html", context, status=400 if error else 200)
