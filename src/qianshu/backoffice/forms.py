"""Back-office forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from qianshu.identity.actions.review import MAX_REASON_LENGTH

# One-click rejection reasons (sent to the user by SMS as they are).
PRESET_REASONS = (
    _("证件照片模糊或不完整，无法辨认"),
    _("手持证件照中的人像与证件不符"),
    _("填写的姓名或证件号码与证件照片不一致"),
    _("证件已过期或不是有效证件"),
)


class RejectForm(forms.Form):
    preset = forms.CharField(required=False, max_length=MAX_REASON_LENGTH)
    reason = forms.CharField(
        label=_("其他原因"),
        required=False,
        max_length=MAX_REASON_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": _("请输入驳回原因，用户将收到短信")}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        reason = (data.get("preset") or data.get("reason") or "").strip()
        if not reason:
            raise forms.ValidationError(_("请选择或填写驳回原因。"))
        data["final_reason"] = reason
        return data
