"""手机扫码认证: the QR code on the computer's 实名认证 page, the status it polls, and the page
the phone opens (log in as the same account, then verify there)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from qianshu.accounts.hints import login_url
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user
from qianshu.identity import access
from qianshu.identity.actions import do_open_identity_handoff, do_start_identity_handoff
from qianshu.identity.errors import HandoffUnusable, TooManyHandoffs
from qianshu.identity.handoffs import HANDOFF_LIFETIME
from qianshu.identity.models import IdentityHandoff
from qianshu.identity.views.common import return_url

SESSION_KEY = "identity_handoff"
POLL_INTERVAL_MS = 2000


def _phone_url(token: str) -> str:
    return settings.PUBLIC_URL + reverse("identity:handoff-phone", args=[token])


@lru_cache(maxsize=256)
def _qr_svg(data: str) -> str:
    """The QR code as SVG (~70 ms to draw): kept while the page is reloaded, as the session's
    hand-off, and so its link, stays the same for minutes."""
    image = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=2,
    )
    return str(image.to_string(encoding="unicode"))


def _state(handoff: IdentityHandoff) -> str:
    user = handoff.user
    if access.verified_identity(user) is not None:
        return "verified"
    if access.pending_review(user) is not None:
        return "review"
    if handoff.used_at is not None:
        return "opened"
    if handoff.expires_at <= timezone.now():
        return "expired"
    return "waiting"


def handoff_context(request: HttpRequest) -> dict[str, Any]:
    """The QR code of the 实名认证 page (computer side): the session's hand-off while it is
    unused and fresh, else a new one. Empty when too many were made."""
    user = current_user(request)
    stored = request.session.get(SESSION_KEY) or {}
    handoff = IdentityHandoff.objects.filter(
        pk=stored.get("id") or 0,
        user=user,
        used_at__isnull=True,
        expires_at__gt=timezone.now() + HANDOFF_LIFETIME / 5,
    ).first()
    token = str(stored.get("token") or "") if handoff is not None else ""
    if handoff is None:
        try:
            handoff, token = do_start_identity_handoff(actor=user, meta=request_meta(request))
        except TooManyHandoffs as exc:
            return {"handoff_error": str(exc)}
        request.session[SESSION_KEY] = {"id": handoff.pk, "token": token}
    link = _phone_url(token)
    return {
        "handoff": handoff,
        "handoff_qr": _qr_svg(link),
        "handoff_link": link,
        "handoff_expires_in": int((handoff.expires_at - timezone.now()).total_seconds()),
        "handoff_minutes": int(HANDOFF_LIFETIME.total_seconds() // 60),
        "poll_interval": POLL_INTERVAL_MS,
    }


@login_required
@never_cache
@require_GET
def handoff_status_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """JSON polled by the computer: ``waiting``, ``opened`` (the phone is verifying),
    ``verified`` (with where to go next), ``review`` or ``expired``."""
    handoff = access.access_handoff_by_id(current_user(request), handoff_id)
    state = _state(handoff)
    body: dict[str, Any] = {"state": state}
    if state == "verified":
        body["next"] = return_url(request)
    elif state == "review":
        body["next"] = reverse("identity:status")
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    return response


def _phone_page(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    response["X-Robots-Tag"] = "noindex"
    return response


@never_cache
@require_GET
def handoff_phone_view(request: HttpRequest, token: str) -> HttpResponse:
    """The page the phone opens from the QR code: log in (the account's phone filled in), then
    on to verification as that account. Another logged-in account is refused."""
    try:
        handoff = access.access_handoff_by_token(token)
        if not request.user.is_authenticated:
            if handoff.used_at is not None:
                raise HandoffUnusable("used")
            if handoff.expires_at <= timezone.now():
                raise HandoffUnusable("expired")
            return _phone_page(HttpResponseRedirect(login_url(request.path, handoff.user.phone)))
        user = current_user(request)
        if handoff.user_id == user.pk and access.verified_identity(user) is not None:
            return _phone_page(redirect("identity:status"))
        do_open_identity_handoff(handoff, actor=user, meta=request_meta(request))
    except HandoffUnusable as exc:
        page = render(
            request, "identity/handoff_error.html", {"message": str(exc)}, status=exc.status
        )
        return _phone_page(page)
    return _phone_page(redirect("identity:start"))
