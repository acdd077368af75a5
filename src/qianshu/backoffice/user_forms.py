"""Forms of the back office's actions on a user's account (each needs a reason)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from qianshu.accounts.forms import PhoneField
from qianshu.identity.actions.operator import MAX_REASON_LENGTH


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("原因"),
        max_length=MAX_REASON_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": _("请填写原因，用户将收到短信")}),
        error_messages={
            "required": _("请填写原因。"),
            "max_length": _("原因最多 200 个字。"),
        },
    )

    def clean_reason(self) -> str:
        reason = " ".join(str(self.cleaned_data["reason"]).split())
        if not reason:
            raise forms.ValidationError(_("请填写原因。"))
        return reason


class OperatorPhoneForm(ReasonForm):
    phone = PhoneField(label=_("新手机号"))

    field_order = ["phone", "reason"]


class UserSearchForm(forms.Form):
    q = forms.CharField(label=_("手机号"), max_length=24, required=False)
