from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from qianshu.webhooks.actions.endpoints import MAX_DESCRIPTION
from qianshu.webhooks.targets import MAX_URL

EVENT_LABELS = {
    "envelope.sent": pgettext_lazy("webhook event", "任务已发起"),
    "recipient.viewed": pgettext_lazy("webhook event", "签署方已查看"),
    "recipient.signed": pgettext_lazy("webhook event", "签署方已签署 / 盖章 / 审批"),
    "recipient.rejected": pgettext_lazy("webhook event", "签署方已拒签"),
    "recipient.returned": pgettext_lazy("webhook event", "签署方已退回"),
    "envelope.completed": pgettext_lazy("webhook event", "任务已完成"),
    "envelope.recalled": pgettext_lazy("webhook event", "任务已撤回"),
    "envelope.expired": pgettext_lazy("webhook event", "任务已过期"),
    "envelope.voided": pgettext_lazy("webhook event", "任务已作废"),
}


class EndpointForm(forms.Form):
    url = forms.CharField(
        label=_("接收地址"),
        max_length=MAX_URL,
        widget=forms.URLInput(attrs={"placeholder": "https://", "inputmode": "url"}),
    )
    description = forms.CharField(label=_("说明"), max_length=MAX_DESCRIPTION, required=False)
    events = forms.MultipleChoiceField(
        label=_("订阅事件"),
        choices=[(key, f"{label} ({key})") for key, label in EVENT_LABELS.items()],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("请至少选择一个事件。")},
    )
