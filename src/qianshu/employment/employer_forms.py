"""Forms of the employer's pages: 确认签约信息, 申请学校审核, 签约搜索, 邀请函, and the seal
and 签署密码 of 确认发送 and of 解约. They only parse input; the actions decide."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from qianshu.employment.models import School
from qianshu.orgs.models import Seal


class SchoolField(forms.ModelChoiceField):
    """A school chosen by its organisation's name."""

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.org.name)


BASIC = (
    ("nature", _("单位性质")),
    ("industry", _("单位行业")),
    ("location", _("单位所在地")),
    ("address", _("单位地址")),
    ("contact", _("联系人")),
    ("phone", _("联系电话")),
)
ARCHIVE = (
    ("unit", _("档案接收单位")),
    ("address", _("档案接收地址")),
    ("postcode", _("邮政编码")),
    ("contact", _("档案接收联系人")),
    ("phone", _("档案接收联系电话")),
)
HUKOU = (
    ("address", _("户口迁移地址")),
    ("unit", _("户口接收单位")),
)
TERMS = (
    ("position", _("拟聘职位")),
    ("contract_term", _("合同期限")),
    ("salary", _("薪酬")),
    ("work_place", _("工作地点")),
    ("probation", _("试用期")),
    ("other_terms", _("其他约定")),
)


class SectionsForm(forms.Form):
    """Fields named ``<section>_<key>`` for the 档案接收信息 and 户口接收信息 sections (and
    the 单位基本信息 when ``basic``), prefilled from ``values`` by section."""

    sections: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = (
        ("archive", ARCHIVE),
        ("hukou", HUKOU),
    )

    def __init__(
        self, data: Any = None, *, values: Mapping[str, Mapping[str, str]] | None = None
    ) -> None:
        initial = {
            f"{section}_{key}": (values or {}).get(section, {}).get(key, "")
            for section, keys in self.sections
            for key, _label in keys
        }
        super().__init__(data, initial=initial)
        for section, keys in self.sections:
            for key, label in keys:
                self.fields[f"{section}_{key}"] = forms.CharField(
                    label=label, max_length=200, required=False
                )
        self.fields["archive_unit"].required = True

    def section(self, name: str) -> dict[str, str]:
        keys = dict(self.sections)[name]
        return {key: self.cleaned_data.get(f"{name}_{key}", "") for key, _label in keys}

    def grouped(self) -> dict[str, list[forms.BoundField]]:
        """The bound fields by section (for templates: ``form.grouped.archive``)."""
        return {
            section: [self[f"{section}_{key}"] for key, _label in keys]
            for section, keys in self.sections
        }


class ProfileForm(SectionsForm):
    """确认签约信息: 单位基本信息, 档案接收信息, 户口接收信息."""

    sections = (("basic", BASIC), ("archive", ARCHIVE), ("hukou", HUKOU))


class ApprovalForm(forms.Form):
    school = SchoolField(
        label=_("学校"), queryset=School.objects.none(), empty_label=_("请选择学校")
    )

    def __init__(self, schools: QuerySet[School], data: Any = None) -> None:
        super().__init__(data)
        field = self.fields["school"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = schools


class SearchForm(forms.Form):
    """签约搜索: all four items are required."""

    school = SchoolField(
        label=_("毕业学校"), queryset=School.objects.none(), empty_label=_("请选择毕业学校")
    )
    year = forms.IntegerField(label=_("毕业届"), min_value=2000, max_value=2100)
    name = forms.CharField(label=_("姓名"), max_length=64)
    id_or_phone = forms.CharField(label=_("身份证号/手机号"), max_length=32)

    def __init__(self, schools: QuerySet[School], data: Any = None, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        field = self.fields["school"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = schools


class LetterForm(SectionsForm):
    """邀请函: 签约信息, 档案接收信息, 户口接收信息 and 反馈期限."""

    feedback_days = forms.IntegerField(label=_("反馈期限（天）"), min_value=1, max_value=30)

    def __init__(
        self,
        data: Any = None,
        *,
        values: Mapping[str, Mapping[str, str]] | None = None,
        feedback_days: int = 5,
    ) -> None:
        super().__init__(data, values=values)
        self.initial["feedback_days"] = feedback_days
        for key, label in TERMS:
            widget = forms.Textarea(attrs={"rows": 3}) if key == "other_terms" else None
            self.fields[key] = forms.CharField(
                label=label,
                required=key == "position",
                max_length=1000 if key == "other_terms" else 100,
                widget=widget,
            )
            self.initial[key] = (values or {}).get("terms", {}).get(key, "")

    def terms(self) -> dict[str, str]:
        return {key: self.cleaned_data.get(key, "") for key, _label in TERMS}

    def term_fields(self) -> list[forms.BoundField]:
        return [self[key] for key, _label in TERMS]


class SealPinForm(forms.Form):
    """The employer's seal and the actor's 签署密码."""

    seal = forms.ChoiceField(label=_("印章"), widget=forms.RadioSelect)
    pin = forms.CharField(
        label=_("签署密码"),
        max_length=6,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def __init__(self, seals: list[Seal], data: Any = None, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.seals = seals
        field = self.fields["seal"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(str(s.uuid), s.name) for s in seals]
        field.error_messages["required"] = _("请选择印章。")
        self.fields["pin"].error_messages["required"] = _("请输入签署密码。")
        if seals and not self.is_bound:
            self.initial["seal"] = str(seals[0].uuid)


class ApplyTerminationForm(SealPinForm):
    """申请解约: 解约须知 accepted, the reason, the seal and 签署密码."""

    notice = forms.BooleanField(
        label=_("我同意并遵守以上规定，严格按照办事流程进行解约操作"),
        error_messages={"required": _("请先阅读并勾选同意解约须知。")},
    )
    reason = forms.CharField(
        label=_("解约原因"), max_length=500, widget=forms.Textarea(attrs={"rows": 4})
    )


class AgreeTerminationForm(SealPinForm):
    """同意解约: 解约须知 accepted, the seal and 签署密码."""

    notice = forms.BooleanField(
        label=_("我同意并遵守以上规定，严格按照办事流程进行解约操作"),
        error_messages={"required": _("请先阅读并勾选同意解约须知。")},
    )


class RefuseTerminationForm(forms.Form):
    reason = forms.CharField(
        label=_("不同意的原因"), max_length=300, widget=forms.Textarea(attrs={"rows": 3})
    )
