"""Admin of accounts. An operator cannot change a person's phone, e-mail or password here:
the phone changes through the back office (``backoffice:user``: a reason, a security event, the
person's sessions ended and both phones told by SMS), the rest only by the person. New accounts
get no password (the person logs in by SMS code and may set one)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from qianshu.accounts.models import HandwrittenSignature, SecurityEvent, User

PERSONAL_FIELDS = ("phone", "email", "password_state", "phone_changed_at", "operator_actions")


class UserCreationForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("phone",)

    def save(self, commit: bool = True) -> User:
        user: User = super().save(commit=False)
        user.set_unusable_password()
        if commit:
            user.save()
        return user


class UserEditForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("display_name", "language", "is_active", "is_staff", "is_superuser")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    add_form = UserCreationForm
    form = UserEditForm
    ordering = ("-date_joined",)
    list_display = ("phone", "display_name", "email", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_active", "is_superuser")
    search_fields = ("phone", "display_name", "email")
    readonly_fields = ("date_joined", "last_login", *PERSONAL_FIELDS)
    fieldsets = (
        (None, {"fields": PERSONAL_FIELDS}),
        (_("资料"), {"fields": ("display_name", "language")}),
        (
            _("权限"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("时间"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("phone",)}),)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:  # the add form asks for the phone only
            return ()
        return super().get_readonly_fields(request, obj)

    @admin.display(description=_("登录密码"))
    def password_state(self, obj: User) -> str:
        return str(_("已设置") if obj.has_usable_password() else _("未设置"))

    @admin.display(description=_("运营操作"))
    def operator_actions(self, obj: User) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("backoffice:user", args=[obj.pk]),
            _("更换手机号、撤销实名认证、吊销个人证书（运营后台）"),
        )

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        # An operator who sets a password could log in as the person: only the person sets it.
        raise PermissionDenied


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "user", "ip")
    list_filter = ("action",)
    search_fields = ("user__phone", "ip")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(HandwrittenSignature)
class HandwrittenSignatureAdmin(admin.ModelAdmin):
    list_display = ("user", "source", "is_default", "created_at")
    list_filter = ("source",)
    raw_id_fields = ("user",)
    readonly_fields = ("image",)
