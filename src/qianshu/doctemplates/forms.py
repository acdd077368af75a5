"""The forms of the template pages: save a draft as a template, use a template, share one."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from qianshu.accounts.models import User
from qianshu.doctemplates.actions.templates import MAX_NAME
from qianshu.doctemplates.datafields import MAX_NAME as MAX_FIELD_NAME
from qianshu.doctemplates.datafields import MAX_VALUE, TYPES
from qianshu.doctemplates.models import Template
from qianshu.doctemplates.snapshots import MAX_LABEL, Party, RoleChoice, default_label
from qianshu.envelopes.models import Field, Recipient
from qianshu.orgs.people import person_label

SEAL = Recipient.Role.SEAL


class SaveForm(forms.Form):
    """保存为模板: a new template or a new version of one the user manages; a label per
    recipient, and whether that party stays fixed."""

    target = forms.ChoiceField(label=_("保存方式"), required=False)
    name = forms.CharField(label=_("模板名称"), max_length=MAX_NAME, required=False)

    def __init__(
        self,
        recipients: list[Recipient],
        templates: list[Template],
        *args: Any,
        texts: list[Field] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.recipients = recipients
        self.texts = texts or []
        self.templates = {str(t.uuid): t for t in templates}
        target = self.fields["target"]
        assert isinstance(target, forms.ChoiceField)
        target.choices = [("", _("新建模板"))] + [
            (key, _("更新模板“%(name)s”（新版本）") % {"name": t.name})
            for key, t in self.templates.items()
        ]
        for index, recipient in enumerate(recipients):
            self.fields[f"label_{index}"] = forms.CharField(
                label=_("角色名称"),
                max_length=MAX_LABEL,
                initial=default_label(recipient, index),
            )
            self.fields[f"fixed_{index}"] = forms.BooleanField(
                label=_("固定为此签署方"),
                required=False,
                initial=recipient.role == SEAL,
            )

        for f in self.texts:
            prefix = f"df{f.pk}-"
            self.fields[prefix + "mode"] = forms.ChoiceField(
                label=_("由谁填写"),
                choices=[
                    ("signer", _("签署方签署时填写")),
                    ("sender", _("发起方填写（数据字段）")),
                ],
                initial="signer",
            )
            self.fields[prefix + "name"] = forms.CharField(
                label=_("字段名称"), max_length=MAX_FIELD_NAME, required=False, initial=f.label
            )
            self.fields[prefix + "type"] = forms.ChoiceField(
                label=_("类型"), choices=list(TYPES.items()), initial="text"
            )
            self.fields[prefix + "required"] = forms.BooleanField(
                label=_("必填"), required=False, initial=True
            )
            self.fields[prefix + "default"] = forms.CharField(
                label=_("默认值"), max_length=MAX_VALUE, required=False
            )
            self.fields[prefix + "max_length"] = forms.IntegerField(
                label=_("最多字数"), min_value=0, max_value=MAX_VALUE, required=False
            )
            self.fields[prefix + "choices"] = forms.CharField(
                label=_("选项（单选，用逗号分隔）"), max_length=1000, required=False
            )

    def text_rows(self) -> list[tuple[Field, list[forms.BoundField]]]:
        return [
            (f, [self[name] for name in self.fields if name.startswith(f"df{f.pk}-")])
            for f in self.texts
        ]

    def data_fields(self) -> dict[int, dict[str, Any]]:
        """The text fields the sender fills, with their definitions (by field id)."""
        out = {}
        for f in self.texts:
            prefix = f"df{f.pk}-"
            if self.cleaned_data.get(prefix + "mode") == "sender":
                out[f.pk] = {
                    key: self.cleaned_data.get(prefix + key)
                    for key in ("name", "type", "required", "default", "max_length", "choices")
                }
        return out

    def rows(self) -> list[tuple[Recipient, forms.BoundField, forms.BoundField]]:
        return [(r, self[f"label_{i}"], self[f"fixed_{i}"]) for i, r in enumerate(self.recipients)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("target") and not (data.get("name") or "").strip():
            self.add_error("name", _("请输入模板名称。"))
        return data

    def template(self) -> Template | None:
        return self.templates.get(self.cleaned_data.get("target") or "")

    def choices(self) -> list[RoleChoice]:
        return [
            RoleChoice(self.cleaned_data[f"label_{i}"], bool(self.cleaned_data[f"fixed_{i}"]))
            for i in range(len(self.recipients))
        ]


class UseForm(forms.Form):
    """使用模板: the task name and the party of each open role."""

    title = forms.CharField(label=_("任务名称"), max_length=100)

    def __init__(self, roles: list[dict[str, Any]], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open_roles = [r for r in roles if not r.get("fixed")]
        for role in self.open_roles:
            key = role["key"]
            if role["role"] == SEAL:
                self.fields[f"{key}-name"] = forms.CharField(label=_("组织名称"), max_length=100)
                self.fields[f"{key}-org_credit_code"] = forms.CharField(
                    label=_("统一社会信用代码"), max_length=18, required=False
                )
                self.fields[f"{key}-contact_name"] = forms.CharField(
                    label=_("联系人"), max_length=64, required=False
                )
                self.fields[f"{key}-phone"] = forms.CharField(
                    label=_("联系人手机号"), max_length=20
                )
            else:
                self.fields[f"{key}-name"] = forms.CharField(label=_("姓名"), max_length=100)
                self.fields[f"{key}-phone"] = forms.CharField(
                    label=_("手机号"), max_length=20, required=False
                )
                self.fields[f"{key}-email"] = forms.EmailField(label=_("电子邮箱"), required=False)

    def add_data_fields(self, fields: list[dict[str, Any]]) -> None:
        """An input per data field the sender fills (named ``data-<n>``)."""
        self.data_fields = fields
        for index, field in enumerate(fields):
            name, kind = field["name"], field["type"]
            required = bool(field.get("required")) and not field.get("default")
            if kind == "choice":
                choices = [("", "—")] + [(c, c) for c in field.get("choices", [])]
                form_field: forms.Field = forms.ChoiceField(
                    label=name, choices=choices, required=required
                )
            elif kind == "checkbox":
                form_field = forms.BooleanField(label=name, required=False)
            elif kind == "multiline":
                form_field = forms.CharField(
                    label=name,
                    required=required,
                    max_length=MAX_VALUE,
                    widget=forms.Textarea(attrs={"rows": 3}),
                )
            elif kind == "date":
                form_field = forms.CharField(
                    label=name, required=required, widget=forms.DateInput(attrs={"type": "date"})
                )
            else:
                form_field = forms.CharField(label=name, required=required, max_length=MAX_VALUE)
            form_field.initial = field.get("default") or None
            self.fields[f"data-{index}"] = form_field

    def data_rows(self) -> list[forms.BoundField]:
        return [self[f"data-{i}"] for i in range(len(getattr(self, "data_fields", [])))]

    def values(self) -> dict[str, object]:
        """The data fields' values by field name (cleaned again by the action)."""
        out: dict[str, object] = {}
        for index, field in enumerate(getattr(self, "data_fields", [])):
            value = self.cleaned_data.get(f"data-{index}")
            if field["type"] == "checkbox":
                value = "是" if value else "否"
            out[field["name"]] = value or ""
        return out

    def groups(self) -> list[tuple[dict[str, Any], list[forms.BoundField]]]:
        return [
            (role, [self[name] for name in self.fields if name.startswith(f"{role['key']}-")])
            for role in self.open_roles
        ]

    def parties(self) -> dict[str, Party]:
        data = self.cleaned_data
        out = {}
        for role in self.open_roles:
            key = role["key"]
            out[key] = Party(
                name=data.get(f"{key}-name", ""),
                phone=data.get(f"{key}-phone", ""),
                email=data.get(f"{key}-email", "") or "",
                contact_name=data.get(f"{key}-contact_name", "") or "",
                org_credit_code=data.get(f"{key}-org_credit_code", "") or "",
            )
        return out


class ShareForm(forms.Form):
    members = forms.ModelMultipleChoiceField(
        label=_("共享给成员"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, members: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["members"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = members
        field.label_from_instance = _member_label  # type: ignore[method-assign,assignment]


def _member_label(user: User) -> str:
    return person_label(user)
