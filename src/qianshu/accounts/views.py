"""Login (SMS code or password), logout, re-authentication and the profile pages."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qianshu.accounts import actions, codes, hints, sessions
from qianshu.accounts.decorators import reauth_required
from qianshu.accounts.forms import (
    ChangePhoneForm,
    CodeLoginForm,
    EmailForm,
    PasswordLoginForm,
    PhoneForm,
    ProfileForm,
    ReauthCodeForm,
    ReauthPasswordForm,
    SetPasswordForm,
)
from qianshu.accounts.phones import mask_phone
from qianshu.core.errors import add_to_form
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user, wants_json


def _next_url(request: HttpRequest, default: str = "accounts:profile") -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(default)


def _first_error(form: Any) -> str:
    for errors in form.errors.values():
        return str(errors[0])
    return _("输入有误，请检查后重试。")


def _send_result(request: HttpRequest, error: codes.CodeError | None) -> JsonResponse:
    if error is None:
        return JsonResponse(
            {"ok": True, "message": _("验证码已发送，5 分钟内有效。"), "retry_after": 60}
        )
    return JsonResponse(
        {"ok": False, "message": str(error), "retry_after": error.retry_after}, status=429
    )


def _hinted_phone(request: HttpRequest) -> tuple[str, str | None]:
    """The login hint of a link (see ``hints``) and the phone it names; ("", None) without a
    valid one."""
    hint = str(request.POST.get("hint") or request.GET.get("hint") or "")
    phone = hints.phone_from_hint(hint)
    return (hint, phone) if phone else ("", None)


def login_view(request: HttpRequest) -> HttpResponse:
    """SMS-code login (the default); the first login with a new phone creates the account.

    From a link, a hint names the phone: the page shows it masked and the code goes there,
    whatever phone is posted beside it."""
    next_url = _next_url(request)
    if request.user.is_authenticated and request.method == "GET":
        return HttpResponseRedirect(next_url)
    hint, hinted_phone = _hinted_phone(request)
    form = CodeLoginForm()
    if request.method == "POST":
        data = request.POST.copy()
        if hinted_phone:
            data["phone"] = hinted_phone
        if request.POST.get("action") == "send":
            phone_form = PhoneForm(data)
            error: codes.CodeError | None = None
            if phone_form.is_valid():
                try:
                    actions.do_send_login_code(
                        phone_form.cleaned_data["phone"], meta=request_meta(request)
                    )
                except codes.CodeError as exc:
                    error = exc
            else:
                error = codes.CodeError(_first_error(phone_form))
            if wants_json(request):
                return _send_result(request, error)
            if error is None:
                messages.success(request, _("验证码已发送，5 分钟内有效。"))
            else:
                messages.error(request, str(error))
            form = CodeLoginForm(initial={"phone": "" if hinted_phone else data.get("phone", "")})
        else:
            form = CodeLoginForm(data)
            if form.is_valid():
                try:
                    user, created = actions.do_login_with_code(
                        form.cleaned_data["phone"],
                        form.cleaned_data["code"],
                        meta=request_meta(request),
                    )
                except codes.CodeError as exc:
                    add_to_form(form, exc)
                else:
                    sessions.start_session(request, user)
                    if created:
                        messages.success(request, _("欢迎使用签署！请先完成个人实名认证。"))
                    return HttpResponseRedirect(next_url)
    context = {
        "form": form,
        "next": next_url,
        "mode": "code",
        "hint": hint,
        "masked_phone": mask_phone(hinted_phone) if hinted_phone else "",
    }
    return render(request, "accounts/login.html", context, status=400 if form.errors else 200)


def password_login_view(request: HttpRequest) -> HttpResponse:
    next_url = _next_url(request)
    form = PasswordLoginForm(request, request.POST or None)
    if request.method == "POST":
        meta = request_meta(request)
        if form.is_valid() and form.user is not None:
            actions.do_login_with_password(form.user, meta=meta)
            sessions.start_session(request, form.user)
            return HttpResponseRedirect(next_url)
        actions.do_record_failed_login(str(form.cleaned_data.get("phone", "")), meta=meta)
    return render(
        request,
        "accounts/login.html",
        {"form": form, "next": next_url, "mode": "password"},
        status=400 if form.errors else 200,
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        actions.do_logout(actor=current_user(request), meta=request_meta(request))
    logout(request)
    messages.info(request, _("您已退出登录。"))
    return redirect("accounts:login")


@login_required
def reauth_view(request: HttpRequest) -> HttpResponse:
    """Confirm it is really the user before a sensitive change (SMS code or password)."""
    user = current_user(request)
    meta = request_meta(request)
    next_url = _next_url(request)
    code_form = ReauthCodeForm()
    password_form = ReauthPasswordForm(user)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "send":
            error: codes.CodeError | None = None
            try:
                actions.do_send_reauth_code(actor=user, meta=meta)
            except codes.CodeError as exc:
                error = exc
            if wants_json(request):
                return _send_result(request, error)
            if error is None:
                messages.success(request, _("验证码已发送，5 分钟内有效。"))
            else:
                messages.error(request, str(error))
        elif action == "password":
            password_form = ReauthPasswordForm(user, request.POST)
            if password_form.is_valid():
                actions.do_reauthenticate_with_password(actor=user, meta=meta)
                sessions.mark_reauthenticated(request)
                return HttpResponseRedirect(next_url)
        else:
            code_form = ReauthCodeForm(request.POST)
            if code_form.is_valid():
                try:
                    actions.do_reauthenticate_with_code(
                        code_form.cleaned_data["code"], actor=user, meta=meta
                    )
                except codes.CodeError as exc:
                    add_to_form(code_form, exc)
                else:
                    sessions.mark_reauthenticated(request)
                    return HttpResponseRedirect(next_url)
    failed = bool(code_form.errors or password_form.errors)
    return render(
        request,
        "accounts/reauth.html",
        {
            "code_form": code_form,
            "password_form": password_form,
            "has_password": user.has_usable_password(),
            "next": next_url,
        },
        status=400 if failed else 200,
    )


@login_required
def profile_view(request: HttpRequest) -> HttpResponse:
    """个人中心: the account, its real-name status and links to the signing set-up."""
    user = current_user(request)
    form = ProfileForm(request.POST or None, initial={"display_name": user.display_name})
    if request.method == "POST":
        if form.is_valid():
            actions.do_update_profile(
                form.cleaned_data["display_name"], actor=user, meta=request_meta(request)
            )
            messages.success(request, _("已保存。"))
            return redirect("accounts:profile")
    return render(
        request,
        "accounts/profile.html",
        {
            "form": form,
            "has_password": user.has_usable_password(),
            "centre": "profile",
            "profile_cards": [
                "identity/_profile_card.html",
                "orgs/_profile_card.html",
                "core/_help_card.html",
            ],
        },
        status=400 if form.errors else 200,
    )


@reauth_required
def change_phone_view(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    meta = request_meta(request)
    form = ChangePhoneForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        phone = form.cleaned_data["phone"]
        if request.POST.get("action") == "send":
            error: codes.CodeError | None = None
            if phone == user.phone:
                error = codes.CodeError(_("新手机号与当前手机号相同。"))
            else:
                try:
                    actions.do_send_change_phone_code(phone, actor=user, meta=meta)
                except codes.CodeError as exc:
                    error = exc
            if wants_json(request):
                return _send_result(request, error)
            if error is None:
                messages.success(request, _("验证码已发送到新手机号。"))
            else:
                messages.error(request, str(error))
        elif not form.cleaned_data.get("code"):
            form.add_error("code", _("请输入发送到新手机号的验证码。"))
        else:
            try:
                actions.do_change_phone(phone, form.cleaned_data["code"], actor=user, meta=meta)
            except codes.CodeError as exc:
                add_to_form(form, exc)
            except actions.PhoneTaken:
                form.add_error("phone", _("该手机号无法使用，请换一个手机号。"))
            else:
                update_session_auth_hash(request, user)
                messages.success(request, _("手机号已更换，其他设备上的登录已退出。"))
                return redirect("accounts:profile")
    elif request.method == "POST" and wants_json(request):
        return _send_result(request, codes.CodeError(_first_error(form)))
    return render(
        request,
        "accounts/change_phone.html",
        {"form": form, "centre": "profile"},
        status=400 if form.errors else 200,
    )


@reauth_required
def change_email_view(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = EmailForm(request.POST or None, initial={"email": user.email})
    if request.method == "POST" and form.is_valid():
        actions.do_change_email(form.cleaned_data["email"], actor=user, meta=request_meta(request))
        messages.success(request, _("电子邮箱已更新。"))
        return redirect("accounts:profile")
    return render(
        request,
        "accounts/change_email.html",
        {"form": form, "centre": "profile"},
        status=400 if form.errors else 200,
    )


@reauth_required
def set_password_view(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        actions.do_set_password(
            form.cleaned_data["password1"], actor=user, meta=request_meta(request)
        )
        update_session_auth_hash(request, user)
        messages.success(request, _("登录密码已设置，其他设备上的登录已退出。"))
        return redirect("accounts:profile")
    return render(
        request,
        "accounts/set_password.html",
        {"form": form, "centre": "profile"},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def logout_others_view(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    actions.do_logout_other_sessions(actor=user, meta=request_meta(request))
    update_session_auth_hash(request, user)
    messages.success(request, _("其他设备上的登录已全部退出。"))
    return redirect("accounts:profile")


@require_POST
def set_language_view(request: HttpRequest) -> HttpResponse:
    """Switch the UI language (remembered on the account when logged in)."""
    from django.views.i18n import set_language

    language = request.POST.get("language", "")
    response = set_language(request)
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        actions.do_set_language(language, actor=current_user(request), meta=request_meta(request))
    return response
