"""Forms of the member pages: inviting by phone, changing a role, switching context."""

from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from qianshu.accounts.forms import PhoneField
from qianshu.orgs.models import Membership

ROLE_ERRORS = {"required": _("请选择成员角色。"), "invalid_choice": _("请选择成员角色。")}


class InviteForm(forms.Form):
    """邀请成员: a phone number and the role the invitee will have."""

    phone = PhoneField(label=_("被邀请人手机号"))
    role = forms.ChoiceField(
        label=_("角色"),
        choices=Membership.Role.choices,
        initial=Membership.Role.MEMBER,
        error_messages=ROLE_ERRORS,
        help_text=_(
            "管理员：管理认证、成员、印章和授权；用印人：可使用被授权的印章；成员：普通成员。"
        ),
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(
        label=_("角色"),
        choices=Membership.Role.choices,
        error_messages=ROLE_ERRORS,
        widget=forms.Select(attrs={"aria-label": _("角色")}),
    )


class SwitchForm(forms.Form):
    """The context to act in: empty for personal (个人), else an organisation's uuid."""

    org = forms.CharField(required=False, max_length=40)

    def clean_org(self) -> uuid.UUID | None:
        value = (self.cleaned_data.get("org") or "").strip()
        if not value or value == "personal":
            return None
        try:
            return uuid.UUID(value)
        except ValueError:
            raise forms.ValidationError(_("请选择要切换的组织。")) from None
