"""Forms of the compose pages (发起签署): the draft's basics, the recipient rows, and the JSON
the field editor saves.

The recipient rows are a formset (prefix ``r``) so that they work without script for the rows
the page renders; the script adds, removes and reorders rows and renumbers their names. A row
left completely empty is ignored. :func:`field_fractions` gives a stored field to the editor in
fractions of its page (origin top-left); what the editor saves is read by
:func:`qianshu.envelopes.placement.editor_fields`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qianshu.accounts.phones import normalize_phone
from qianshu.envelopes import binding, compose
from qianshu.envelopes.geometry import to_fractions
from qianshu.envelopes.models import MAX_SCENE, Document, Field, Recipient, clean_scene
from qianshu.orgs.models import Seal
from qianshu.signing.stamps import Rect

BEIJING = zoneinfo.ZoneInfo("Asia/Shanghai")
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
INPUT_FORMATS = (DATETIME_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
Role = Recipient.Role
Kind = Field.Kind
# Rows the page offers without script (blank rows are ignored when saved).
BLANK_ROWS = 3


class BeijingDateTimeField(forms.DateTimeField):
    """A ``datetime-local`` input read and shown in Beijing time, whatever the server zone."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dt.datetime) and timezone.is_aware(value):
            return value.astimezone(BEIJING).strftime(DATETIME_FORMAT)
        return value

    def to_python(self, value: Any) -> dt.datetime | None:
        if value in self.empty_values:
            return None
        if isinstance(value, dt.datetime):
            return value if timezone.is_aware(value) else value.replace(tzinfo=BEIJING)
        text = str(value).strip()
        for fmt in INPUT_FORMATS:
            try:
                return dt.datetime.strptime(text, fmt).replace(tzinfo=BEIJING)
            except ValueError:
                continue
        raise ValidationError(self.error_messages["invalid"], code="invalid")


class DraftForm(forms.Form):
    """任务名称, 场景, 签署截止, 截止前自动提醒, 签署说明, and whether SMS-code signing is
    allowed."""

    title = forms.CharField(
        label=_("任务名称"),
        required=False,
        max_length=compose.MAX_TITLE,
        widget=forms.TextInput(attrs={"placeholder": _("例如：办公设备采购合同")}),
        help_text=_("不填写时使用第一份文件的名称。"),
        error_messages={"max_length": _("任务名称最多 100 个字。")},
    )
    scene = forms.CharField(
        label=_("场景"),
        required=False,
        max_length=MAX_SCENE,
        widget=forms.TextInput(
            attrs={"list": "scene-options", "placeholder": _("例如：企业签约、年度考核")}
        ),
        help_text=_("选填。任务列表中显示场景，并可按场景筛选。"),
        error_messages={"max_length": _("场景最多 30 个字。")},
    )
    deadline = BeijingDateTimeField(
        label=_("签署截止"),
        required=False,
        help_text=_("北京时间。不填写则不限时间；截止时仍未签完的任务将自动过期。"),
        error_messages={"invalid": _("请输入正确的日期和时间。")},
    )
    auto_remind = forms.BooleanField(label=_("截止前自动提醒"), required=False, initial=True)
    allow_sms_signing = forms.BooleanField(
        label=_("允许未设置签署密码的签署人使用短信验证码签署"), required=False, initial=True
    )
    message = forms.CharField(
        label=_("签署说明"),
        required=False,
        max_length=500,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": _("选填，签署方会在通知和签署页面看到这段说明")}
        ),
        error_messages={"max_length": _("签署说明最多 500 个字。")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        now = timezone.now().astimezone(BEIJING)
        self.fields["deadline"].widget.attrs["min"] = now.strftime(DATETIME_FORMAT)

    def clean_title(self) -> str:
        return " ".join(self.cleaned_data["title"].split())

    def clean_scene(self) -> str:
        return clean_scene(self.cleaned_data["scene"])

    def clean_deadline(self) -> dt.datetime | None:
        deadline = self.cleaned_data["deadline"]
        if deadline is None:
            return None
        now = timezone.now()
        if deadline <= now:
            raise ValidationError(_("签署截止时间必须晚于现在。"), code="past")
        if deadline > now + dt.timedelta(days=compose.MAX_DEADLINE_DAYS):
            raise ValidationError(_("签署截止时间最长为两年。"), code="too_far")
        return deadline


def seal_kind_choices() -> list[tuple[str, Any]]:
    return [("", _("不限")), *Seal.Kind.choices]


class RecipientRowForm(forms.Form):
    """One recipient row: 个人签署 / 企业盖章 / 审批 / 抄送 and its contact."""

    rid = forms.IntegerField(required=False, widget=forms.HiddenInput)
    role = forms.ChoiceField(
        label=_("签署方类型"),
        choices=Role.choices,
        initial=Role.SIGN,
        widget=forms.RadioSelect,
        error_messages={
            "invalid_choice": _("请选择签署方类型。"),
            "required": _("请选择签署方类型。"),
        },
    )
    routing_order = forms.IntegerField(
        label=_("签署顺序"),
        min_value=1,
        max_value=99,
        initial=1,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 1, "max": 99}),
        error_messages={
            "required": _("请填写签署顺序。"),
            "invalid": _("签署顺序应为 1–99 的数字。"),
            "min_value": _("签署顺序应为 1–99 的数字。"),
            "max_value": _("签署顺序应为 1–99 的数字。"),
        },
    )
    name = forms.CharField(label=_("姓名"), required=False, max_length=200)
    phone = forms.CharField(
        label=_("手机号"),
        required=False,
        max_length=24,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    email = forms.CharField(
        label=_("电子邮箱"),
        required=False,
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    contact_name = forms.CharField(label=_("联系人"), required=False, max_length=200)
    org_credit_code = forms.CharField(
        label=_("统一社会信用代码"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    # A seal recipient: the uuid of the verified organisation chosen in the search (组织搜索).
    org = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    required_seal_kind = forms.ChoiceField(
        label=_("指定印章类型"),
        required=False,
        choices=seal_kind_choices,
        error_messages={"invalid_choice": _("请选择正确的印章类型。")},
    )

    TEXT_FIELDS = ("name", "phone", "email", "contact_name", "org_credit_code", "org")

    def is_blank(self) -> bool:
        """Nothing typed in the row (a spare row of the page)."""
        data = getattr(self, "cleaned_data", None) or {}
        return not any(str(data.get(key) or "").strip() for key in self.TEXT_FIELDS)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.is_blank():
            return data
        role = data.get("role")
        is_seal = role == Role.SEAL
        if not is_seal:
            # Fields of the other row type stay in the page while hidden: drop them.
            data["contact_name"] = ""
            data["org_credit_code"] = ""
            data["required_seal_kind"] = ""
            data["org"] = ""
        name = " ".join(str(data.get("name") or "").split())
        data["name"] = name
        if not name:
            self.add_error("name", _("请输入组织名称。") if is_seal else _("请输入姓名。"))
        elif len(name) > (100 if is_seal else 64):
            self.add_error("name", _("名称太长。"))
        contact = " ".join(str(data.get("contact_name") or "").split())
        data["contact_name"] = contact
        if is_seal and not contact:
            self.add_error("contact_name", _("请输入联系人姓名。"))
        elif len(contact) > 64:
            self.add_error("contact_name", _("联系人姓名太长。"))
        phone = str(data.get("phone") or "").strip()
        email = str(data.get("email") or "").strip()
        if phone:
            try:
                data["phone"] = normalize_phone(phone)
            except ValidationError:
                self.add_error("phone", _("手机号码不正确，请输入 11 位手机号。"))
        if email:
            try:
                validate_email(email)
            except ValidationError:
                self.add_error("email", _("电子邮箱不正确。"))
        data["email"] = email
        if not phone and not email:
            self.add_error(
                "phone",
                _("请填写联系人手机号或电子邮箱。") if is_seal else _("请填写手机号或电子邮箱。"),
            )
        code = binding.normalise_code(str(data.get("org_credit_code") or ""))
        data["org_credit_code"] = code
        data["org"] = str(data.get("org") or "").strip()
        if is_seal and not data["org"]:
            # An organisation not chosen in the search is named by its credit code too.
            problem = binding.credit_code_problem(code)
            if problem:
                self.add_error("org_credit_code", problem)
        return data

    def to_input(self) -> compose.RecipientInput:
        data = self.cleaned_data
        return compose.RecipientInput(
            role=data["role"],
            routing_order=data["routing_order"],
            name=data["name"],
            phone=data["phone"],
            email=data["email"],
            contact_name=data["contact_name"],
            org_credit_code=data["org_credit_code"],
            required_seal_kind=data["required_seal_kind"] or "",
            id=data.get("rid"),
            org_uuid=data.get("org") or "",
        )


class BaseRecipientFormSet(forms.BaseFormSet):
    def inputs(self) -> list[compose.RecipientInput]:
        """The rows that were filled in, in page order."""
        return [form.to_input() for form in self.forms if not form.is_blank()]

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        filled = [f for f in self.forms if not f.is_blank()]
        if len(filled) > compose.MAX_RECIPIENTS:
            raise ValidationError(
                _("每个任务最多 %(n)d 个签署方。") % {"n": compose.MAX_RECIPIENTS}
            )


RecipientFormSet = forms.formset_factory(
    RecipientRowForm,
    formset=BaseRecipientFormSet,
    extra=0,
    max_num=compose.MAX_RECIPIENTS + BLANK_ROWS,
    absolute_max=compose.MAX_RECIPIENTS + BLANK_ROWS,
)
RECIPIENT_PREFIX = "r"


def recipient_initial(recipients: list[Recipient]) -> list[dict[str, Any]]:
    """The rows of a draft's recipients, then spare rows (ignored unless filled in)."""
    rows: list[dict[str, Any]] = [
        {
            "rid": r.pk,
            "role": r.role,
            "routing_order": r.routing_order,
            "name": r.name,
            "phone": r.phone,
            "email": r.email,
            "contact_name": r.contact_name,
            "org_credit_code": r.org_credit_code,
            "required_seal_kind": r.required_seal_kind,
            "org": str(r.org.uuid) if r.org is not None and r.role == Role.SEAL else "",
        }
        for r in recipients
    ]
    last = max((r.routing_order for r in recipients), default=0)
    spare = max(1, BLANK_ROWS - len(rows))
    rows += [{"role": Role.SIGN, "routing_order": last + i + 1} for i in range(spare)]
    return rows


# --- the field editor's placements (read back: envelopes/placement.py) ---------------------


def field_fractions(field: Field, document: Document) -> dict[str, Any]:
    """A stored field as the editor places it (fractions of its page, origin top-left)."""
    boxes = document.boxes()
    page = field.page if 0 <= field.page < len(boxes) else 0
    box = boxes[page]
    rect = Rect(field.x1, field.y1, field.x2, field.y2)
    if field.kind == Kind.CROSS_PAGE_SEAL:
        page = field.pages[0] if field.pages else page
        box = boxes[page] if 0 <= page < len(boxes) else box
        rect = Rect(box.x2 - rect.height, rect.y1, box.x2, rect.y2)
    return {
        "id": field.pk,
        "recipient": field.recipient_id,
        "document": field.document_id,
        "kind": field.kind,
        "page": page,
        "pages": list(field.pages or []),
        "label": field.label,
        **to_fractions(box, rect),
    }
