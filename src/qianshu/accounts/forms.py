"""Forms of the accounts pages; every error message is for the user, in their language."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from qianshu.accounts import throttles
from qianshu.accounts.models import User
from qianshu.accounts.phones import normalize_phone
from qianshu.core.meta import request_meta

PASSWORD_LIMIT = 5  # wrong passwords per phone (login and re-authentication together)
PASSWORD_IP_LIMIT = 50  # wrong passwords per client address
PASSWORD_WINDOW = 15 * 60

CODE_WIDGET = forms.TextInput(
    attrs={
        "inputmode": "numeric",
        "autocomplete": "one-time-code",
        "pattern": "[0-9]{6}",
        "maxlength": "6",
        "placeholder": _("6 位验证码"),
    }
)


class PhoneField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("手机号"))
        kwargs.setdefault("max_length", 24)
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={"inputmode": "tel", "autocomplete": "tel", "placeholder": _("请输入手机号")}
            ),
        )
        kwargs.setdefault("error_messages", {"required": _("请输入手机号。")})
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        return normalize_phone(super().clean(value))


class CodeField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("验证码"))
        kwargs.setdefault("max_length", 6)
        kwargs.setdefault("min_length", 6)
        kwargs.setdefault("widget", CODE_WIDGET)
        kwargs.setdefault(
            "error_messages",
            {
                "required": _("请输入验证码。"),
                "min_length": _("验证码为 6 位数字。"),
                "max_length": _("验证码为 6 位数字。"),
            },
        )
        super().__init__(**kwargs)


class PhoneForm(forms.Form):
    phone = PhoneField()


class CodeLoginForm(forms.Form):
    phone = PhoneField()
    code = CodeField()


class PasswordLoginForm(forms.Form):
    phone = PhoneField()
    password = forms.CharField(
        label=_("密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": _("请输入密码。")},
    )

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        self.request = request
        self.user: User | None = None
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        phone, password = data.get("phone"), data.get("password")
        if not phone or not password:
            return data
        ip_key = f"pw-fail:ip:{request_meta(self.request).ip or 'unknown'}"
        phone_key = f"pw-fail:phone:{phone}"
        # Counted before the password is checked (see throttles): a success gives it back.
        verdict = throttles.hit(phone_key, limit=PASSWORD_LIMIT, window=PASSWORD_WINDOW)
        if verdict:
            verdict = throttles.hit(ip_key, limit=PASSWORD_IP_LIMIT, window=PASSWORD_WINDOW)
            if not verdict:
                throttles.refund(phone_key)
        if not verdict:
            raise forms.ValidationError(
                _("密码错误次数过多，请 %(minutes)s 分钟后再试，或使用验证码登录。"),
                params={"minutes": max(1, verdict.retry_after // 60)},
                code="locked",
            )
        user = authenticate(self.request, username=phone, password=password)
        if user is None:
            # The same message whether the phone has no account, no password or another one.
            raise forms.ValidationError(_("手机号或密码错误。"), code="invalid_login")
        throttles.reset(phone_key)
        throttles.refund(ip_key)
        self.user = user
        return data


class ReauthCodeForm(forms.Form):
    code = CodeField()


class ReauthPasswordForm(forms.Form):
    password = forms.CharField(
        label=_("登录密码"), strip=False, widget=forms.PasswordInput(), required=True
    )

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        key = f"pw-fail:phone:{self.user.phone}"
        # Counted before the check, as for the login (see throttles).
        if not throttles.hit(key, limit=PASSWORD_LIMIT, window=PASSWORD_WINDOW):
            raise forms.ValidationError(_("密码错误次数过多，请稍后再试，或使用验证码。"))
        if not self.user.check_password(password):
            raise forms.ValidationError(_("密码错误。"))
        throttles.reset(key)
        return str(password)


class ChangePhoneForm(forms.Form):
    phone = PhoneField(label=_("新手机号"))
    code = CodeField(required=False)


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("电子邮箱"),
        max_length=254,
        error_messages={
            "invalid": _("请输入正确的电子邮箱地址。"),
            "required": _("请输入电子邮箱。"),
        },
    )


class ProfileForm(forms.Form):
    display_name = forms.CharField(label=_("昵称"), max_length=64, required=False)


class SetPasswordForm(forms.Form):
    password1 = forms.CharField(
        label=_("新密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("再次输入"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            raise forms.ValidationError(_("两次输入的密码不一致。"))
        if p1:
            validate_password(p1, self.user)
        return data
