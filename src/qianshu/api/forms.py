from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from qianshu.api.actions.keys import MAX_NAME
from qianshu.api.models import Scope


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=MAX_NAME, help_text=_("例如：采购系统"))
    scopes = forms.MultipleChoiceField(
        label=_("权限范围"),
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("请至少选择一个权限范围。")},
    )
