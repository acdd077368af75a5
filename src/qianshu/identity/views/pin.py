"""签署密码: set (first time), change, and reset a forgotten PIN."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.codes import CodeError
from qianshu.accounts.decorators import reauth_required
from qianshu.core.errors import add_message, add_to_form
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user, posted, wants_json
from qianshu.identity import access, actions
from qianshu.identity.errors import PinError, ResetHeld
from qianshu.identity.forms import ChangePinForm, ResetPinForm, SetPinForm
from qianshu.identity.holds import new_key_held_until, pin_reset_held_until
from qianshu.identity.views.common import safe_next


@reauth_required
def pin_view(request: HttpRequest) -> HttpResponse:
    """Set the signing PIN (issues the person certificate) or change it."""
    user = current_user(request)
    meta = request_meta(request)
    identity = access.verified_identity(user)
    context: dict[str, object] = {"centre": "pin", "nav": "identity", "identity": identity}
    if identity is None:
        return render(request, "identity/pin.html", context)
    credential = access.active_credential(user)
    next_url = safe_next(request)
    context.update({"credential": credential, "next": next_url})
    if credential is None:
        if access.has_signing_credential(user):  # revoked: a new key only by the reset
            context["needs_reset"] = True
            return render(request, "identity/pin.html", context)
        context["held_until"] = new_key_held_until(user)
        set_form = SetPinForm(identity, posted(request))
        if request.method == "POST" and set_form.is_valid():
            try:
                actions.do_set_signing_pin(set_form.cleaned_data["pin1"], actor=user, meta=meta)
            except PinError as exc:
                add_message(request, exc)
                return redirect(request.get_full_path())
            messages.success(request, _("签署密码已设置，您的个人数字证书已签发。"))
            return redirect(next_url or "identity:certificate")
        context["form"] = set_form
        return render(request, "identity/pin.html", context, status=400 if set_form.errors else 200)
    change_form = ChangePinForm(identity, posted(request))
    if request.method == "POST" and change_form.is_valid():
        try:
            actions.do_change_signing_pin(
                change_form.cleaned_data["old_pin"],
                change_form.cleaned_data["pin1"],
                actor=user,
                meta=meta,
            )
        except PinError as exc:
            add_to_form(change_form, exc)
        else:
            messages.success(request, _("签署密码已修改。"))
            return redirect("identity:pin")
    context["form"] = change_form
    context["locked"] = credential.locked_at(timezone.now())
    return render(request, "identity/pin.html", context, status=400 if change_form.errors else 200)


@login_required
def pin_reset_view(request: HttpRequest) -> HttpResponse:
    """重置签署密码: SMS code + the verified ID number; the old certificate is revoked."""
    user = current_user(request)
    meta = request_meta(request)
    identity = access.verified_identity(user)
    context: dict[str, object] = {"centre": "pin", "nav": "identity", "identity": identity}
    if identity is None:
        return render(request, "identity/pin_reset.html", context)
    form = ResetPinForm(identity)
    next_url = safe_next(request)
    context.update({"held_until": pin_reset_held_until(user), "next": next_url})
    if request.method == "POST" and request.POST.get("action") == "send":
        error: CodeError | PinError | None = None
        try:
            actions.do_send_pin_reset_code(actor=user, meta=meta)
        except (CodeError, PinError) as exc:
            error = exc
        if wants_json(request):
            if error is None:
                return JsonResponse(
                    {"ok": True, "message": _("验证码已发送，5 分钟内有效。"), "retry_after": 60}
                )
            retry_after = error.retry_after if isinstance(error, CodeError) else 0
            return JsonResponse(
                {"ok": False, "message": str(error), "retry_after": retry_after}, status=429
            )
        if error is None:
            messages.success(request, _("验证码已发送，5 分钟内有效。"))
        else:
            messages.error(request, str(error))
    elif request.method == "POST":
        form = ResetPinForm(identity, request.POST)
        if form.is_valid():
            try:
                actions.do_reset_signing_pin(
                    form.cleaned_data["code"],
                    form.cleaned_data["id_number"],
                    form.cleaned_data["pin1"],
                    actor=user,
                    meta=meta,
                )
            except CodeError as exc:
                add_to_form(form, exc)
            except ResetHeld as exc:
                add_to_form(form, exc)
            except PinError as exc:
                add_to_form(form, exc, field="id_number")
            else:
                messages.success(
                    request, _("签署密码已重置，原证书已吊销，新的个人数字证书已签发。")
                )
                return redirect(next_url or "identity:certificate")
    context["form"] = form
    context["masked_phone"] = user.masked_phone
    return render(request, "identity/pin_reset.html", context, status=400 if form.errors else 200)
