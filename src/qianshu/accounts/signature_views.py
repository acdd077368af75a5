"""Pages of 个人签章: the saved handwritten signatures, drawing, phone hand-off and upload."""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Any

import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from qianshu.accounts import throttles
from qianshu.accounts.access import (
    access_handoff_by_id,
    access_handoff_by_token,
    access_signature_by_id,
)
from qianshu.accounts.actions import (
    do_complete_handoff,
    do_delete_signature,
    do_save_signature,
    do_set_default_signature,
    do_stage_signature_upload,
    do_start_handoff,
)
from qianshu.accounts.models import HandwrittenSignature, SignatureHandoff
from qianshu.accounts.signatures import (
    HANDOFF_LIFETIME,
    MAX_DRAWN_BYTES,
    MAX_SIGNATURES,
    MAX_UPLOAD_BYTES,
    HandwrittenSignatureError,
    SignatureHandoffUnusable,
    SignatureImage,
    cap_message,
    decode_png_data_url,
    load_staged_signature,
    prepare_drawn_signature,
    prepare_uploaded_signature,
    signature_count,
)
from qianshu.core.downloads import content_disposition
from qianshu.core.errors import add_message, add_to_form
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user, wants_json

HANDOFF_SESSION_KEY = "qianshu_signature_handoff"
POLL_INTERVAL_MS = 2000
# Phone pages need no login, so they are limited per client address: plenty for a whole
# office behind one address, and unknown tokens are cut off much sooner.
PHONE_REQUESTS_PER_IP = (120, 600)  # requests, seconds
PHONE_MISSES_PER_IP = (20, 3600)
UPLOADS_PER_USER_HOUR = 30


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


def _drawn_png(request: HttpRequest) -> bytes:
    """The canvas PNG of a pad submission: a multipart file ``image`` or a data URL."""
    upload = request.FILES.get("image")
    if upload is not None:
        # One byte more than allowed is enough for the size check to refuse it.
        return upload.read(MAX_DRAWN_BYTES + 1)
    data_url = request.POST.get("image_data", "")
    return decode_png_data_url(data_url) if data_url else b""


def _pad_error(
    request: HttpRequest, message: str, template: str, context: dict[str, Any], status: int = 400
) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"ok": False, "message": message}, status=status)
    return render(request, template, {**context, "error": message}, status=status)


# --------------------------------------------------------------------------------------------
# The list, default, delete, image
# --------------------------------------------------------------------------------------------


@login_required
@require_GET
def signatures_view(request: HttpRequest) -> HttpResponse:
    """个人签章: the saved signatures, the default first, and the three ways to add one."""
    user = current_user(request)
    signatures = list(HandwrittenSignature.objects.filter(user=user))
    return render(
        request,
        "accounts/signatures/list.html",
        {
            "signatures": signatures,
            "at_cap": len(signatures) >= MAX_SIGNATURES,
            "max_signatures": MAX_SIGNATURES,
            "centre": "signatures",
        },
    )


@login_required
@require_GET
def signature_image_view(request: HttpRequest, signature_id: int) -> HttpResponse:
    signature = access_signature_by_id(current_user(request), signature_id)
    response = HttpResponse(signature.image.read(), content_type="image/png")
    # The picture behind an id never changes, but it is personal: browser cache only.
    response["Cache-Control"] = "private, max-age=86400"
    response["Content-Disposition"] = content_disposition(
        f"signature-{signature.pk}.png", inline=True
    )
    return response


@login_required
@require_POST
def set_default_view(request: HttpRequest, signature_id: int) -> HttpResponse:
    user = current_user(request)
    signature = access_signature_by_id(user, signature_id)
    do_set_default_signature(signature, actor=user, meta=request_meta(request))
    messages.success(request, _("已设为默认签名。"))
    return redirect("accounts:signatures")


@login_required
@require_POST
def delete_view(request: HttpRequest, signature_id: int) -> HttpResponse:
    user = current_user(request)
    signature = access_signature_by_id(user, signature_id)
    new_default = do_delete_signature(signature, actor=user, meta=request_meta(request))
    if new_default is not None:
        messages.success(request, _("签名已删除，最新的一个签名已设为默认。"))
    else:
        messages.success(request, _("签名已删除。"))
    return redirect("accounts:signatures")


# --------------------------------------------------------------------------------------------
# Drawing in the browser
# --------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def draw_view(request: HttpRequest) -> HttpResponse:
    """手写签名: draw on a canvas; the pad posts the PNG here (fetch or a plain form)."""
    user = current_user(request)
    context: dict[str, Any] = {"centre": "signatures", "at_cap": False}
    if request.method == "POST":
        try:
            image = prepare_drawn_signature(_drawn_png(request))
            signature = do_save_signature(
                image,
                source=HandwrittenSignature.Source.DRAWN,
                actor=user,
                meta=request_meta(request),
            )
        except HandwrittenSignatureError as exc:
            return _pad_error(request, str(exc), "accounts/signatures/draw.html", context)
        messages.success(request, _("签名已保存。"))
        list_url = reverse("accounts:signatures")
        if wants_json(request):
            return JsonResponse({"ok": True, "signature_id": signature.pk, "redirect": list_url})
        return redirect(list_url)
    if signature_count(user) >= MAX_SIGNATURES:
        context["at_cap"] = True
        context["error"] = cap_message()
    return render(request, "accounts/signatures/draw.html", context)


# --------------------------------------------------------------------------------------------
# Phone hand-off: the desktop side
# --------------------------------------------------------------------------------------------


def _phone_url(token: str) -> str:
    return settings.PUBLIC_URL + reverse("accounts:signature-phone", args=[token])


@lru_cache(maxsize=256)
def _qr_svg(text: str) -> str:
    """The QR code as SVG (~70 ms to draw): kept while the page is reloaded with the same
    hand-off link."""
    image = qrcode.make(
        text,
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=2,
    )
    return str(image.to_string(encoding="unicode"))


def _handoff_state(handoff: SignatureHandoff) -> str:
    if handoff.used_at is not None:
        return "done"
    if handoff.expires_at <= timezone.now():
        return "expired"
    return "waiting"


def _handoff_status(handoff: SignatureHandoff) -> dict[str, Any]:
    state = _handoff_state(handoff)
    remaining = (handoff.expires_at - timezone.now()).total_seconds()
    signature = None
    if state == "done" and handoff.signature_id is not None:
        signature = {
            "id": handoff.signature_id,
            "image_url": reverse("accounts:signature-image", args=[handoff.signature_id]),
        }
    return {
        "state": state,
        "expires_in": max(0, int(remaining)) if state == "waiting" else 0,
        "signature": signature,
    }


@login_required
@require_http_methods(["GET", "POST"])
def handoff_view(request: HttpRequest) -> HttpResponse:
    """手机扫码签名: POST opens a hand-off and shows its QR code (GET explains, with a button)."""
    user = current_user(request)
    if request.method == "POST":
        try:
            handoff, token = do_start_handoff(actor=user, meta=request_meta(request))
        except HandwrittenSignatureError as exc:
            add_message(request, exc)
            return redirect("accounts:signatures")
        # The token exists only here and in the QR code; the session lets a reload show it again.
        request.session[HANDOFF_SESSION_KEY] = {"id": handoff.pk, "token": token}
        return redirect("accounts:signature-handoff-qr", handoff_id=handoff.pk)
    return render(
        request,
        "accounts/signatures/handoff_start.html",
        {"centre": "signatures", "minutes": int(HANDOFF_LIFETIME.total_seconds() // 60)},
    )


@login_required
@require_GET
def handoff_qr_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff = access_handoff_by_id(current_user(request), handoff_id)
    stored = request.session.get(HANDOFF_SESSION_KEY) or {}
    token = stored.get("token") if stored.get("id") == handoff.pk else None
    status = _handoff_status(handoff)
    link = _phone_url(token) if token else ""
    context = {
        "centre": "signatures",
        "handoff": handoff,
        "status": status,
        "link": link,
        "qr_svg": _qr_svg(link) if link and status["state"] == "waiting" else "",
        "minutes": int(HANDOFF_LIFETIME.total_seconds() // 60),
        "poll_interval": POLL_INTERVAL_MS,
    }
    return _no_store(render(request, "accounts/signatures/handoff.html", context))


@login_required
@require_GET
def handoff_status_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """JSON polled by the QR page: ``waiting``, ``done`` (with the new signature) or ``expired``."""
    handoff = access_handoff_by_id(current_user(request), handoff_id)
    return _no_store(JsonResponse(_handoff_status(handoff)))


# --------------------------------------------------------------------------------------------
# Phone hand-off: the phone side (no login: the token is the authorisation)
# --------------------------------------------------------------------------------------------


def _phone_headers(response: HttpResponse) -> HttpResponse:
    _no_store(response)
    response["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    response["X-Robots-Tag"] = "noindex"
    return response


def _phone_error(request: HttpRequest, message: str, status: int) -> HttpResponse:
    if wants_json(request):
        response: HttpResponse = JsonResponse({"ok": False, "message": message}, status=status)
    else:
        response = render(
            request, "accounts/signatures/phone_error.html", {"message": message}, status=status
        )
    return _phone_headers(response)


@require_http_methods(["GET", "POST"])
def phone_view(request: HttpRequest, token: str) -> HttpResponse:
    """The page a phone opens from the QR code: draw, and save for the token's account."""
    meta = request_meta(request)
    ip = meta.ip or "unknown"
    miss_key = f"signature-phone-miss:ip:{ip}"
    misses, miss_window = PHONE_MISSES_PER_IP
    requests, window = PHONE_REQUESTS_PER_IP
    verdict = throttles.exceeded(miss_key, limit=misses, window=miss_window)
    if verdict:
        verdict = throttles.hit(f"signature-phone:ip:{ip}", limit=requests, window=window)
    if not verdict:
        refused = _phone_error(request, _("请求过于频繁，请稍后再试。"), status=429)
        refused["Retry-After"] = str(verdict.retry_after)
        return refused
    try:
        handoff = access_handoff_by_token(token)
    except SignatureHandoffUnusable as exc:
        if exc.reason == "unknown":
            throttles.hit(miss_key, limit=misses, window=miss_window)
        return _phone_error(request, str(exc), status=exc.status)

    context = {"masked_phone": handoff.user.masked_phone}
    if request.method == "POST":
        try:
            image = prepare_drawn_signature(_drawn_png(request))
            do_complete_handoff(handoff, image, meta=meta)
        except SignatureHandoffUnusable as exc:
            return _phone_error(request, str(exc), status=410)
        except HandwrittenSignatureError as exc:
            return _phone_headers(
                _pad_error(request, str(exc), "accounts/signatures/phone.html", context)
            )
        if wants_json(request):
            done = {"ok": True, "message": _("签名已保存，请回到电脑上继续操作。")}
            return _phone_headers(JsonResponse(done))
        return _phone_headers(render(request, "accounts/signatures/phone_done.html"))
    return _phone_headers(render(request, "accounts/signatures/phone.html", context))


# --------------------------------------------------------------------------------------------
# Upload of a photo or scan
# --------------------------------------------------------------------------------------------


class SignatureUploadForm(forms.Form):
    image = forms.FileField(
        label=gettext_lazy("签名图片"),
        help_text=gettext_lazy("支持 JPG、PNG 等常见图片格式，不超过 10 MB。"),
        error_messages={
            "required": gettext_lazy("请选择要上传的签名图片。"),
            "empty": gettext_lazy("文件为空，请重新选择签名图片。"),
            "invalid": gettext_lazy("没有收到文件，请重新选择签名图片。"),
        },
        widget=forms.FileInput(
            attrs={
                "accept": "image/*",
                "id": "signature-upload-input",
                "data-testid": "signature-upload-input",
            }
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def upload_view(request: HttpRequest) -> HttpResponse:
    """上传签名图片: clean the picture and show a preview; nothing is saved before 保存."""
    user = current_user(request)
    posted = request.method == "POST"
    form = SignatureUploadForm(request.POST, request.FILES) if posted else SignatureUploadForm()
    context: dict[str, Any] = {"form": form, "centre": "signatures"}
    if posted and form.is_valid():
        if signature_count(user) >= MAX_SIGNATURES:
            form.add_error(None, cap_message())
        elif not throttles.hit(
            f"signature-upload:user:{user.pk}", limit=UPLOADS_PER_USER_HOUR, window=3600
        ):
            form.add_error(None, _("上传过于频繁，请稍后再试。"))
        else:
            upload = form.cleaned_data["image"]
            try:
                image = prepare_uploaded_signature(upload.read(MAX_UPLOAD_BYTES + 1))
                reference = do_stage_signature_upload(image, actor=user)
            except HandwrittenSignatureError as exc:
                add_to_form(form, exc, field="image")
            else:
                return _no_store(
                    render(
                        request,
                        "accounts/signatures/upload_preview.html",
                        {
                            "centre": "signatures",
                            "image": image,
                            "data_url": _png_data_url(image),
                            "reference": reference,
                        },
                    )
                )
    return render(
        request,
        "accounts/signatures/upload.html",
        context,
        status=400 if form.errors else 200,
    )


def _png_data_url(image: SignatureImage) -> str:
    return "data:image/png;base64," + base64.b64encode(image.png).decode("ascii")


@login_required
@require_POST
def upload_save_view(request: HttpRequest) -> HttpResponse:
    """保存 on the preview page: the cleaned picture becomes a signature of the account."""
    user = current_user(request)
    try:
        image = load_staged_signature(request.POST.get("reference", ""), actor=user)
        do_save_signature(
            image, source=HandwrittenSignature.Source.UPLOAD, actor=user, meta=request_meta(request)
        )
    except HandwrittenSignatureError as exc:
        add_message(request, exc)
        return redirect("accounts:signature-upload")
    messages.success(request, _("签名已保存。"))
    return redirect("accounts:signatures")
