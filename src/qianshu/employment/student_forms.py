"""Forms of the student's pages. They only parse what was typed; the actions decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from qianshu.employment.models import School

PIN_WIDGET = forms.PasswordInput(
    attrs={
        "inputmode": "numeric",
        "autocomplete": "off",
        "maxlength": "6",
        "pattern": "[0-9]{6}",
        "data-testid": "pin",
    }
)


class SchoolChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.org.name)


class StudentNoVerifyForm(forms.Form):
    """信息验证 for a school that checks 学号 + 姓名 (the phone is the account's own)."""

    school = SchoolChoiceField(
        label=_("学校"),
        queryset=School.objects.none(),
        empty_label=_("请选择学校"),
        error_messages={"required": _("请选择学校。"), "invalid_choice": _("请选择学校。")},
    )
    student_no = forms.CharField(
        label=_("学号"), max_length=32, error_messages={"required": _("请填写学号。")}
    )
    name = forms.CharField(
        label=_("姓名"), max_length=64, error_messages={"required": _("请填写姓名。")}
    )

    def __init__(self, *args: Any, schools: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["school"]
        assert isinstance(field, SchoolChoiceField)
        field.queryset = schools


class AcceptForm(forms.Form):
    """同意 → 现在签约: the student's signature (saved, or drawn now) and 签署密码."""

    now = forms.BooleanField(required=False)  # 现在签约 pressed in the first dialog
    signature = forms.CharField(required=False, widget=forms.HiddenInput, max_length=2_000_000)
    pin = forms.CharField(label=_("签署密码"), max_length=32, required=False, widget=PIN_WIDGET)


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("拒绝原因（选填）"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "data-testid": "reject-reason"}),
    )


RULES_LABEL = _("我同意并遵守以上规定，严格按照办事流程进行解约操作")


class TerminationForm(forms.Form):
    """解约申请 (online): 解约须知 accepted, a reason, the 签署密码."""

    rules = forms.BooleanField(
        label=RULES_LABEL,
        error_messages={"required": _("请先阅读并勾选同意解约须知。")},
        widget=forms.CheckboxInput(attrs={"data-testid": "termination-rules"}),
    )
    reason = forms.CharField(
        label=_("解约原因"),
        max_length=500,
        error_messages={"required": _("请填写解约原因。")},
        widget=forms.Textarea(attrs={"rows": 4, "data-testid": "termination-reason"}),
    )
    pin = forms.CharField(label=_("签署密码"), max_length=32, required=False, widget=PIN_WIDGET)


class PaperTerminationForm(forms.Form):
    """解约申请 (线下签约): 解约须知, a reason and the employer's stamped 解约证明."""

    rules = TerminationForm.base_fields["rules"]
    reason = TerminationForm.base_fields["reason"]
    proof = forms.FileField(
        label=_("单位盖章的解约证明"),
        help_text=_("JPG、PNG 图片或 PDF 文件，不超过 5 MB。"),
        error_messages={"required": _("请上传单位盖章的解约证明。")},
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/jpeg,image/png,application/pdf", "data-testid": "proof"}
        ),
    )


class AnswerForm(forms.Form):
    """查看解约: 同意解约 (解约须知 and 签署密码) or 不同意 (a reason, optional)."""

    rules = forms.BooleanField(
        label=RULES_LABEL,
        required=False,
        widget=forms.CheckboxInput(attrs={"data-testid": "termination-rules"}),
    )
    pin = forms.CharField(label=_("签署密码"), max_length=32, required=False, widget=PIN_WIDGET)
    reason = forms.CharField(
        label=_("不同意的原因（选填）"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "data-testid": "refuse-reason"}),
    )


def _text(label: Any, *, limit: int = 200, textarea: bool = False) -> forms.CharField:
    widget = forms.Textarea(attrs={"rows": 3}) if textarea else forms.TextInput()
    return forms.CharField(label=label, max_length=limit, required=False, widget=widget)


#: 录入协议书: (section, key, label, long text) in the order of the page.
PAPER_SECTIONS: tuple[tuple[str, Any, tuple[tuple[str, Any, bool], ...]], ...] = (
    (
        "terms",
        _("签约信息"),
        (
            ("position", _("拟聘职位"), False),
            ("contract_term", _("合同期限"), False),
            ("salary", _("薪酬"), False),
            ("work_place", _("工作地点"), False),
            ("probation", _("试用期"), False),
            ("other_terms", _("其他约定"), True),
        ),
    ),
    (
        "employer",
        _("单位基本信息"),
        (
            ("name", _("单位名称"), False),
            ("credit_code", _("统一社会信用代码"), False),
            ("nature", _("单位性质"), False),
            ("industry", _("单位行业"), False),
            ("location", _("单位所在地"), False),
            ("address", _("单位地址"), False),
            ("contact", _("联系人"), False),
        ),
    ),
    (
        "archive",
        _("档案信息"),
        (
            ("unit", _("档案接收单位"), False),
            ("address", _("档案接收地址"), False),
            ("postcode", _("邮政编码"), False),
            ("contact", _("联系人"), False),
            ("phone", _("联系电话"), False),
        ),
    ),
    (
        "hukou",
        _("户口信息"),
        (
            ("address", _("户口迁移地址"), False),
            ("unit", _("户口接收单位"), False),
        ),
    ),
)

#: Required before 保存并生成协议书 (the action checks it too).
PAPER_REQUIRED = {("terms", "position"), ("employer", "name"), ("employer", "credit_code"),
                  ("archive", "unit")}  # fmt: skip


class PaperForm(forms.Form):
    """录入协议书: four sections; every field may stay empty in a 暂存."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for section, _title, items in PAPER_SECTIONS:
            for key, label, long in items:
                limit = 1000 if long else 200
                field = _text(label, limit=limit, textarea=long)
                if (section, key) in PAPER_REQUIRED:
                    field.widget.attrs["data-required"] = "1"
                field.widget.attrs["data-testid"] = f"paper-{section}-{key}"
                self.fields[f"{section}_{key}"] = field

    @staticmethod
    def initial_of(values: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The form's initial values from a saved agreement's sections."""
        return {
            f"{section}_{key}": values.get(section, {}).get(key, "")
            for section, _title, items in PAPER_SECTIONS
            for key, _label, _long in items
        }

    def sections(self) -> dict[str, dict[str, str]]:
        return {
            section: {key: self.cleaned_data.get(f"{section}_{key}", "") for key, *_ in items}
            for section, _title, items in PAPER_SECTIONS
        }

    def groups(self) -> list[tuple[Any, list[forms.BoundField]]]:
        return [
            (title, [self[f"{section}_{key}"] for key, *_ in items])
            for section, title, items in PAPER_SECTIONS
        ]


class PaperConfirmForm(forms.Form):
    checked = forms.BooleanField(
        label=_("我已预览协议书，确认以上信息真实、准确"),
        error_messages={"required": _("请先预览协议书并勾选确认。")},
        widget=forms.CheckboxInput(attrs={"data-testid": "paper-confirm-check"}),
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (the list is checked by :mod:`..student_uploads`)."""

    def clean(self, data: Any, initial: Any = None) -> Any:
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return super().clean(data, initial)


class FeedbackForm(forms.Form):
    """反馈协议书: the scan or photos of the signed and stamped paper agreement."""

    scans = MultipleFileField(
        label=_("单位签字盖章后的协议书（扫描件或照片）"),
        help_text=_("JPG、PNG 图片或 PDF 文件，最多 10 个，每个不超过 5 MB。"),
        required=False,
        widget=MultipleFileInput(
            attrs={"accept": "image/jpeg,image/png,application/pdf", "data-testid": "feedback"}
        ),
    )
