"""Forms of the identity pages; every error message is for the user, in their language."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from qianshu.accounts.forms import CodeField, PhoneField
from qianshu.accounts.models import User
from qianshu.identity import crypto
from qianshu.identity.actions import Photo
from qianshu.identity.drafts import Declaration
from qianshu.identity.idcards import IdType, validate_card_number, validate_id_number
from qianshu.identity.models import PersonIdentity, methods_for
from qianshu.identity.pins import pin_problem
from qianshu.identity.uploads import read_id_photo


class DeclarationForm(forms.Form):
    """Step 1 (身份信息): document type, name, number, phone."""

    id_type = forms.ChoiceField(
        label=_("证件类型"),
        choices=IdType.choices,
        initial=IdType.RESIDENT,
        error_messages={"required": _("请选择证件类型。"), "invalid_choice": _("请选择证件类型。")},
    )
    name = forms.CharField(
        label=_("姓名"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "name", "placeholder": _("证件上的姓名")}),
        error_messages={"required": _("请输入姓名。"), "max_length": _("姓名过长。")},
    )
    id_number = forms.CharField(
        label=_("证件号码"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": _("请输入证件号码")}),
        error_messages={"required": _("请输入证件号码。")},
    )
    phone = PhoneField()

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        name = " ".join(str(self.cleaned_data["name"]).split())
        if len(name) < 2:
            raise ValidationError(_("请输入证件上的完整姓名。"))
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        id_type, raw = data.get("id_type"), data.get("id_number")
        if not id_type or not raw:
            return data
        try:
            number = validate_id_number(id_type, raw)
        except ValidationError as exc:
            self.add_error("id_number", exc)
            return data
        data["id_number"] = number
        lookup = crypto.number_hmac(id_type, number)
        if PersonIdentity.objects.filter(number_hmac=lookup).exclude(user=self.user).exists():
            self.add_error(
                "id_number", _("该证件已用于其他账户的实名认证，如有疑问请联系平台客服。")
            )
        return data

    def declaration(self) -> Declaration:
        data = self.cleaned_data
        return Declaration(
            id_type=data["id_type"],
            name=data["name"],
            id_number=data["id_number"],
            phone=data["phone"],
        )


class MethodForm(forms.Form):
    """Step 2: the verification method; only the ones the document type allows are valid."""

    method = forms.ChoiceField(
        label=_("认证方式"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("请选择认证方式。"),
            "invalid_choice": _("该证件类型不支持此认证方式，请选择人工审核。"),
        },
    )

    def __init__(self, declaration: Declaration, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = methods_for(declaration.id_type)
        method = self.fields["method"]
        assert isinstance(method, forms.ChoiceField)
        method.choices = [(m.value, m.label) for m in allowed]
        method.initial = allowed[0].value


class FaceConsentForm(forms.Form):
    agree = forms.BooleanField(
        label=_("已阅读并同意《个人信息保护政策》与《个人生物识别信息保护声明》"),
        error_messages={
            "required": _("请阅读并同意《个人信息保护政策》与《个人生物识别信息保护声明》后继续。")
        },
    )


class Phone3CodeForm(forms.Form):
    code = CodeField()


class Bank4Form(forms.Form):
    card_number = forms.CharField(
        label=_("银行卡号"),
        max_length=32,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "cc-number",
                "placeholder": _("本人银行卡号"),
            }
        ),
        error_messages={"required": _("请输入银行卡号。")},
    )
    phone = PhoneField(label=_("银行预留手机号"))

    def clean_card_number(self) -> str:
        return validate_card_number(self.cleaned_data["card_number"])


class ManualReviewForm(forms.Form):
    front = forms.FileField(
        label=_("证件人像面照片"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
        error_messages={"required": _("请上传证件人像面照片。")},
        allow_empty_file=True,  # read_id_photo says "empty file" itself
    )
    handheld = forms.FileField(
        label=_("手持证件照片"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
        error_messages={"required": _("请上传本人手持证件的照片。")},
        allow_empty_file=True,
    )

    def clean_front(self) -> Photo:
        return read_id_photo(self.cleaned_data["front"])

    def clean_handheld(self) -> Photo:
        return read_id_photo(self.cleaned_data["handheld"])


def _pin_field(label: Any, autocomplete: str = "new-password") -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        max_length=6,
        min_length=6,
        widget=forms.PasswordInput(
            attrs={
                "inputmode": "numeric",
                "pattern": "[0-9]{6}",
                "maxlength": "6",
                "autocomplete": autocomplete,
            }
        ),
        error_messages={
            "required": _("请输入 6 位数字签署密码。"),
            "min_length": _("签署密码为 6 位数字。"),
            "max_length": _("签署密码为 6 位数字。"),
        },
    )


class NewPinForm(forms.Form):
    """Two fields for a new PIN, checked against the PIN rules and each other."""

    pin1 = _pin_field(_("签署密码"))
    pin2 = _pin_field(_("再次输入"))

    identity: PersonIdentity

    def clean_pin1(self) -> str:
        pin = str(self.cleaned_data["pin1"])
        problem = pin_problem(
            pin, birth_date=self.identity.birth_date, id_number=self.identity.id_number()
        )
        if problem:
            raise ValidationError(problem)
        return pin

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        pin1, pin2 = data.get("pin1"), data.get("pin2")
        if pin1 and pin2 and pin1 != pin2:
            self.add_error("pin2", _("两次输入的签署密码不一致。"))
        return data


class SetPinForm(NewPinForm):
    def __init__(self, identity: PersonIdentity, *args: Any, **kwargs: Any) -> None:
        self.identity = identity
        super().__init__(*args, **kwargs)


class ChangePinForm(NewPinForm):
    old_pin = _pin_field(_("原签署密码"), autocomplete="current-password")
    field_order = ["old_pin", "pin1", "pin2"]

    def __init__(self, identity: PersonIdentity, *args: Any, **kwargs: Any) -> None:
        self.identity = identity
        super().__init__(*args, **kwargs)
        self.fields["pin1"].label = _("新签署密码")


class ResetPinForm(NewPinForm):
    code = CodeField()
    id_number = forms.CharField(
        label=_("证件号码"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={"required": _("请输入实名认证时使用的证件号码。")},
    )
    field_order = ["code", "id_number", "pin1", "pin2"]

    def __init__(self, identity: PersonIdentity, *args: Any, **kwargs: Any) -> None:
        self.identity = identity
        super().__init__(*args, **kwargs)
        self.fields["pin1"].label = _("新签署密码")

    def clean_id_number(self) -> str:
        # The format check (e.g. the GB 11643 check digit) catches typos before the SMS code
        # is spent.
        return validate_id_number(self.identity.id_type, self.cleaned_data["id_number"])
