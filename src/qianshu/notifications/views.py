"""Development-only outbox page: read the codes and links that would have been sent."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from qianshu.notifications.models import OutboxMessage

PAGE_SIZE = 100


@never_cache
def outbox(request: HttpRequest) -> HttpResponse:
    """The latest messages, newest first, optionally for one recipient. 404 unless DEBUG."""
    # Checked per request, not at URL loading: the page must vanish whenever DEBUG is off.
    if not settings.DEBUG:
        raise Http404
    recipient = request.GET.get("recipient", "").strip()
    messages = OutboxMessage.objects.order_by("-created_at", "-id")
    if recipient:
        messages = messages.filter(recipient__icontains=recipient)
    return render(
        request,
        "notifications/outbox.html",
        {
            "outbox_messages": messages[:PAGE_SIZE],
            "recipient": recipient,
            "page_size": PAGE_SIZE,
            "refresh": request.GET.get("refresh") != "0",
        },
    )
