from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qianshu.api.actions.keys import MAX_NAME
from qianshu.api.models import Scope
from qianshu.orgs.grants import DEFAULT_GRANT_DAYS
from qianshu.orgs.models import Organization, Seal


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=MAX_NAME, help_text=_("例如：采购系统"))
    scopes = forms.MultipleChoiceField(
        label=_("权限范围"),
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("请至少选择一个权限范围。")},
    )


class KeySealForm(forms.Form):
    """API 用印: which seal a key may use, until when (a date, to the end of that day in the
    platform's time zone, Beijing time by default)."""

    seal = forms.ModelChoiceField(
        label=_("印章"),
        queryset=Seal.objects.none(),
        to_field_name="uuid",
        empty_label=None,
        error_messages={"invalid_choice": _("请选择本组织启用中的印章。")},
    )
    valid_until = forms.DateField(
        label=_("截止日期"),
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("请输入有效的日期。")},
    )
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, org: Organization, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["seal"].queryset = (  # type: ignore[attr-defined]
            Seal.objects.filter(org=org, status=Seal.Status.ACTIVE)
            .exclude(kind=Seal.Kind.LEGAL_REP)
            .order_by("created_at", "id")
        )
        if not self.is_bound:
            today = timezone.localdate()
            self.initial.setdefault("valid_until", today + dt.timedelta(days=DEFAULT_GRANT_DAYS))

    def until(self) -> dt.datetime:
        """The end of the chosen day in the platform's time zone."""
        day = self.cleaned_data["valid_until"] + dt.timedelta(days=1)
        return timezone.make_aware(dt.datetime.combine(day, dt.time()))
