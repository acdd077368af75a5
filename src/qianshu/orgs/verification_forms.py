"""Forms of 创建组织 and 组织机构认证; every error message is for the user, in their language."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from qianshu.accounts.forms import PhoneField
from qianshu.orgs.licences import Licence, read_licence
from qianshu.orgs.models import Organization
from qianshu.orgs.names import same_name
from qianshu.orgs.providers import BankAccount
from qianshu.orgs.verification_deposits import parse_amount_fen, platform_account
from qianshu.signing.pki import validate_credit_code

Kind = Organization.Kind
Method = Organization.Method

# The manual's explanation of each organisation type (组织类型).
KIND_HELP = {
    Kind.ENTERPRISE: _("有限责任公司、股份有限公司、个人独资企业等请选择此类型。"),
    Kind.INDIVIDUAL_BUSINESS: _("个体工商户请选择此类型。"),
    Kind.GOVERNMENT: _(
        "国务院或地方政府组成部门以及直属机构，例如外交部、海关、税务、民政局等请选择此类型。"
    ),
    Kind.INSTITUTION: _("教育、科技、文化、卫生、社会福利等请选择此类型。"),
    Kind.OTHER: _("社会团体、民办非企业单位，例如工会、妇联、工商联等请选择此类型。"),
    Kind.OVERSEAS: _("港澳台及海外组织请选择此类型。"),
}

# The verification methods as the manual words them.
METHOD_CHOICES = [
    (Method.LEGAL_REP, _("（推荐）法定代表人认证")),
    (Method.DEPOSIT_TO_ORG, _("对公打款认证：平台给我打款")),
    (Method.DEPOSIT_TO_PLATFORM, _("对公打款认证：我给平台打款")),
]
METHOD_HELP = {
    Method.LEGAL_REP: _("需法定代表人在线确认授权并完成身份确认。"),
    Method.DEPOSIT_TO_ORG: _(
        "输入我方对公账号信息，等待平台方给我方打款后，将打款金额填写到页面指定位置即可。"
    ),
    Method.DEPOSIT_TO_PLATFORM: _(
        "使用对公账户向平台对公账户打款页面所示的金额（0.01–0.99 元）并填写备注码，"
        "平台收到后即通过。"
    ),
}

_CODE_CHARS = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
_REGISTRATION = re.compile(r"[0-9A-Za-z()（）\-/ ]{4,64}")
_ACCOUNT = re.compile(r"\d{8,30}")


def _one_line(value: object) -> str:
    return " ".join(str(value or "").split())


class OrgForm(forms.Form):
    """创建组织 (and correcting an unverified organisation): the licence fields of the manual."""

    kind = forms.ChoiceField(
        label=_("组织类型"),
        choices=Kind.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择组织类型。"), "invalid_choice": _("请选择组织类型。")},
    )
    licence = forms.FileField(
        label=_("营业执照"),
        required=False,
        allow_empty_file=True,  # read_licence says so, naming the file
        help_text=_("上传本组织机构的营业执照，可上传文件格式为：JPG、JPEG、PNG、PDF，5 MB 以内。"),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".jpg,.jpeg,.png,.pdf,image/jpeg,image/png,application/pdf"}
        ),
    )
    name = forms.CharField(
        label=_("组织机构名称"),
        max_length=100,
        help_text=_("与营业执照上的名称一致。"),
        error_messages={"required": _("请输入组织机构名称。"), "max_length": _("名称过长。")},
    )
    credit_code = forms.CharField(
        label=_("统一社会信用代码"),
        required=False,
        max_length=40,
        help_text=_("与营业执照上的统一社会信用代码一致，18 位数字或大写字母。"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    registration_number = forms.CharField(
        label=_("注册号码"),
        required=False,
        max_length=64,
        help_text=_("港澳台及海外组织填写当地注册证书上的注册号码。"),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    legal_rep_name = forms.CharField(
        label=_("法定代表人"),
        max_length=64,
        help_text=_("与营业执照上的法定代表人一致。"),
        error_messages={"required": _("请输入法定代表人姓名。"), "max_length": _("姓名过长。")},
    )

    def __init__(self, *args: Any, licence_required: bool = True, **kwargs: Any) -> None:
        self.licence_required = licence_required
        super().__init__(*args, **kwargs)
        if not licence_required:
            self.fields["licence"].help_text = _(
                "如需更换营业执照请重新上传（JPG、JPEG、PNG、PDF，5 MB 以内），否则保留原文件。"
            )

    def kind_options(self) -> list[dict[str, Any]]:
        """Each radio button with the manual's explanation, for the template."""
        return [
            {"radio": radio, "help": KIND_HELP.get(radio.data["value"], "")}
            for radio in self["kind"]
        ]

    def clean_licence(self) -> Licence | None:
        upload = self.cleaned_data.get("licence")
        if not upload:
            if self.licence_required:
                raise ValidationError(_("请上传营业执照（JPG、JPEG、PNG 或 PDF，5 MB 以内）。"))
            return None
        return read_licence(upload)

    def clean_name(self) -> str:
        name = _one_line(self.cleaned_data["name"])
        if len(name) < 2:
            raise ValidationError(_("请输入营业执照上的完整名称。"))
        return name

    def clean_legal_rep_name(self) -> str:
        name = _one_line(self.cleaned_data["legal_rep_name"])
        if len(name) < 2:
            raise ValidationError(_("请输入法定代表人的完整姓名。"))
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if not kind:
            return data
        if kind == Kind.OVERSEAS:
            data["credit_code"] = ""
            number = _one_line(data.get("registration_number"))
            if not number:
                self.add_error("registration_number", _("请输入注册号码。"))
            elif not _REGISTRATION.fullmatch(number):
                self.add_error(
                    "registration_number",
                    _("注册号码应为 4~64 位字母、数字或括号、横线。"),
                )
            data["registration_number"] = number
            return data
        data["registration_number"] = ""
        code = "".join(str(data.get("credit_code") or "").split()).upper()
        data["credit_code"] = code
        if not code:
            self.add_error("credit_code", _("请输入统一社会信用代码。"))
        elif len(code) != 18:
            self.add_error(
                "credit_code",
                _("统一社会信用代码应为 18 位，您输入了 %(count)s 位。") % {"count": len(code)},
            )
        elif not _CODE_CHARS.fullmatch(code):
            self.add_error(
                "credit_code",
                _("统一社会信用代码只包含数字和大写字母（不含 I、O、Z、S、V），请核对营业执照。"),
            )
        elif not validate_credit_code(code):
            self.add_error("credit_code", _("统一社会信用代码校验位不正确，请核对营业执照。"))
        return data


class OrgCreateForm(OrgForm):
    """创建组织: the licence fields and the consent to 《隐私保护协议》 (seed 002).

    ``pending_name`` is the licence kept from a previous try (已上传：…): then no file needs to
    be chosen again, and choosing one replaces it.
    """

    privacy = forms.BooleanField(
        label=_("我已阅读并同意《隐私保护协议》"),
        error_messages={"required": _("请阅读并同意《隐私保护协议》。")},
    )

    def __init__(self, *args: Any, pending_name: str = "", **kwargs: Any) -> None:
        super().__init__(*args, licence_required=not pending_name, **kwargs)
        self.fields["licence"].help_text = self.base_fields["licence"].help_text
        self.set_pending(pending_name)

    def set_pending(self, name: str) -> None:
        """Show the kept licence ``name`` (after this form's own upload was kept)."""
        self.pending_name = name


class MethodForm(forms.Form):
    method = forms.ChoiceField(
        label=_("认证方式"),
        choices=METHOD_CHOICES,
        widget=forms.RadioSelect,
        initial=Method.LEGAL_REP,
        error_messages={"required": _("请选择认证方式。"), "invalid_choice": _("请选择认证方式。")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if platform_account() is None:
            choices = [c for c in METHOD_CHOICES if c[0] != Method.DEPOSIT_TO_PLATFORM]
            self.fields["method"].choices = choices  # type: ignore[attr-defined]

    def method_options(self) -> list[dict[str, Any]]:
        return [
            {"radio": radio, "help": METHOD_HELP.get(radio.data["value"], "")}
            for radio in self["method"]
        ]


class LegalRepPhoneForm(forms.Form):
    phone = PhoneField(
        label=_("法定代表人手机号"),
        help_text=_("平台将向该手机号发送授权短信，法定代表人登录并完成实名认证后确认授权。"),
    )


class BankAccountForm(forms.Form):
    """平台给我打款: the organisation's corporate account."""

    bank_name = forms.CharField(
        label=_("开户银行"),
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("例如：中国工商银行北京分行营业部")}),
        error_messages={"required": _("请输入开户银行。"), "max_length": _("开户银行名称过长。")},
    )
    account_name = forms.CharField(
        label=_("账户名称"),
        max_length=100,
        help_text=_("对公账户的户名，须与组织机构名称一致。"),
        error_messages={"required": _("请输入账户名称。"), "max_length": _("账户名称过长。")},
    )
    account_number = forms.CharField(
        label=_("对公账号"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        error_messages={"required": _("请输入对公账号。"), "max_length": _("对公账号过长。")},
    )

    def __init__(self, org: Organization, *args: Any, **kwargs: Any) -> None:
        self.org = org
        super().__init__(*args, **kwargs)

    def clean_bank_name(self) -> str:
        name = _one_line(self.cleaned_data["bank_name"])
        if len(name) < 2:
            raise ValidationError(_("请输入完整的开户银行名称。"))
        return name

    def clean_account_name(self) -> str:
        name = _one_line(self.cleaned_data["account_name"])
        if not same_name(name, self.org.name):
            raise ValidationError(
                _("账户名称须与组织机构名称“%(name)s”一致。") % {"name": self.org.name}
            )
        return name

    def clean_account_number(self) -> str:
        number = re.sub(r"[\s-]", "", str(self.cleaned_data["account_number"]))
        if not _ACCOUNT.fullmatch(number):
            raise ValidationError(_("对公账号应为 8~30 位数字，请核对后重新输入。"))
        return number

    def account(self) -> BankAccount:
        data = self.cleaned_data
        return BankAccount(data["bank_name"], data["account_name"], data["account_number"])


class AmountForm(forms.Form):
    amount = forms.CharField(
        label=_("打款金额（元）"),
        max_length=10,
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"}
        ),
        error_messages={"required": _("请输入收到的打款金额。")},
    )

    def clean_amount(self) -> int:
        fen = parse_amount_fen(str(self.cleaned_data["amount"]))
        if fen is None:
            raise ValidationError(_("请输入 0.01~0.99 之间的金额，例如 0.35。"))
        return fen


class LegalRepDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", _("同意授权")), ("refuse", _("拒绝"))],
        error_messages={
            "required": _("请选择同意或拒绝。"),
            "invalid_choice": _("请选择同意或拒绝。"),
        },
    )
    reason = forms.CharField(
        label=_("拒绝原因"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": _("选填，管理员将收到短信")}),
    )
