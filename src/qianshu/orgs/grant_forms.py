"""Forms of the seal grant, seal use and usage log pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from qianshu.accounts.forms import PhoneField
from qianshu.accounts.models import User
from qianshu.core.errors import signing_message
from qianshu.orgs.grants import DEFAULT_POSITION, MAX_GRANT_DAYS, POSITIONS
from qianshu.orgs.models import Organization, Seal, SealUsage
from qianshu.orgs.people import IDENTITY, person_label, real_name
from qianshu.pki.platform import load_platform
from qianshu.signing.appending import accept_for_stamping_isolated
from qianshu.signing.errors import (
    PdfError,
    PdfTooLargeError,
    SignedActiveContentError,
)
from qianshu.signing.ingest import MIB, IngestedPdf, IngestLimits

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
# Documents sealed through the seal-use page; module-level so tests can lower it.
SEAL_USE_LIMITS = IngestLimits(max_bytes=20 * MIB, max_pages=300)

# What a signed upload may not carry (IngestedPdf report names), in the user's words.
ACTIVE_CONTENT_WORDS = {
    "javascript": _("JavaScript 脚本"),
    "open_action": _("打开文件时自动执行的动作"),
    "additional_actions": _("自动执行的动作"),
    "actions": _("链接以外的动作"),
    "embedded_files": _("嵌入的附件"),
    "media": _("多媒体内容"),
    "xfa": _("XFA 表单"),
    "form_fields": _("表单域"),
    "annotations": _("批注"),
}


def _active_content_words(found: tuple[str, ...]) -> str:
    names = dict.fromkeys(item.split(":", 1)[0] for item in found)
    return gettext("、").join(str(ACTIVE_CONTENT_WORDS.get(name, name)) for name in names)


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format=DATETIME_FORMAT)


def _datetime_field(label: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        widget=LocalDateTimeInput(),
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        error_messages={"required": _("请选择时间。"), "invalid": _("请输入正确的时间。")},
    )


class OptionalPhoneField(PhoneField):
    def clean(self, value: Any) -> str:
        if not str(value or "").strip():
            return ""
        return super().clean(value)


class MemberChoiceField(forms.ModelChoiceField):
    """A member, named by the verified name and masked phone (未实名 + phone otherwise)."""

    def label_from_instance(self, obj: Any) -> str:
        name = real_name(obj)
        if not name:
            return person_label(obj)
        return gettext("%(name)s（%(phone)s）") % {"name": name, "phone": obj.masked_phone}


class GrantForm(forms.Form):
    """印章授权: which seal, to which member, for which period."""

    seal = forms.ModelChoiceField(
        label=_("印章"),
        queryset=Seal.objects.none(),
        empty_label=_("请选择印章"),
        error_messages={
            "required": _("请选择印章。"),
            "invalid_choice": _("请选择本组织启用中的印章。"),
        },
    )
    grantee = MemberChoiceField(
        label=_("被授权人"),
        queryset=User.objects.none(),
        empty_label=_("请选择成员"),
        error_messages={
            "required": _("请选择被授权的成员。"),
            "invalid_choice": _("只能授权给本组织的成员。"),
        },
    )
    valid_from = _datetime_field(_("生效时间"))
    valid_until = _datetime_field(_("截止时间"))
    legal_rep_phone = OptionalPhoneField(
        label=_("法定代表人手机号"),
        required=False,
        help_text=_("授权法定代表人章时必填：法定代表人将收到短信，登录并本人同意后授权才生效。"),
    )
    note = forms.CharField(
        label=_("备注"),
        required=False,
        max_length=200,
        error_messages={"max_length": _("备注最多 200 个字。")},
    )

    def __init__(self, org: Organization, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.org = org
        seal_field = self.fields["seal"]
        assert isinstance(seal_field, forms.ModelChoiceField)
        seal_field.queryset = Seal.objects.filter(org=org, status=Seal.Status.ACTIVE)
        grantee_field = self.fields["grantee"]
        assert isinstance(grantee_field, forms.ModelChoiceField)
        grantee_field.queryset = (
            User.objects.filter(memberships__org=org)
            .select_related(IDENTITY)
            .order_by(f"{IDENTITY}__name", "phone")
        )
        if not self.is_bound:
            now = timezone.localtime().replace(second=0, microsecond=0)
            self.initial.setdefault("valid_from", now)
            self.initial.setdefault("valid_until", now + dt.timedelta(days=365))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end:
            if end <= start:
                self.add_error("valid_until", _("截止时间必须晚于生效时间。"))
            elif end <= timezone.now():
                self.add_error("valid_until", _("截止时间必须晚于当前时间。"))
            elif end - start > dt.timedelta(days=MAX_GRANT_DAYS):
                self.add_error("valid_until", _("授权期限最长 5 年。"))
        seal = data.get("seal")
        if (
            seal is not None
            and seal.kind == Seal.Kind.LEGAL_REP
            and not data.get("legal_rep_phone")
        ):
            if "legal_rep_phone" not in self.errors:
                self.add_error(
                    "legal_rep_phone",
                    _("授权法定代表人章需要法定代表人本人同意，请填写法定代表人手机号。"),
                )
        return data


class SealUseForm(forms.Form):
    """用印: the PDF, where the stamp goes, and the user's own signing PIN."""

    document = forms.FileField(
        label=_("待盖章文件（PDF）"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
        error_messages={
            "required": _("请选择要盖章的 PDF 文件。"),
            "empty": _("文件是空的，请重新选择。"),
            "invalid": _("请选择要盖章的 PDF 文件。"),
        },
    )
    page = forms.IntegerField(
        label=_("盖章页码"),
        required=False,
        min_value=1,
        help_text=_("留空则盖在最后一页。"),
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "placeholder": _("最后一页")}),
        error_messages={"invalid": _("请输入正确的页码。"), "min_value": _("页码从 1 开始。")},
    )
    position = forms.ChoiceField(
        label=_("盖章位置"),
        choices=list(POSITIONS.items()),
        initial=DEFAULT_POSITION,
        error_messages={"required": _("请选择盖章位置。"), "invalid_choice": _("请选择盖章位置。")},
    )
    pin = forms.CharField(
        label=_("签署密码"),
        min_length=6,
        max_length=6,
        strip=True,
        help_text=_("请输入您本人的 6 位签署密码，以确认由您本人用印。"),
        widget=forms.PasswordInput(
            attrs={"inputmode": "numeric", "autocomplete": "off", "pattern": "[0-9]*"}
        ),
        error_messages={
            "required": _("请输入签署密码。"),
            "min_length": _("签署密码为 6 位数字。"),
            "max_length": _("签署密码为 6 位数字。"),
        },
    )

    ingested: IngestedPdf | None = None

    def clean_pin(self) -> str:
        pin = str(self.cleaned_data["pin"])
        if not pin.isdigit():
            raise ValidationError(_("签署密码为 6 位数字。"))
        return pin

    def clean_document(self) -> UploadedFile:
        """Check the upload in a limited child process before the PIN is asked for: a signed
        PDF is accepted only if it can be sealed as it is (``qianshu.signing.appending``)."""
        upload = self.cleaned_data["document"]
        limits = SEAL_USE_LIMITS
        if upload.size is not None and upload.size > limits.max_bytes:
            raise ValidationError(
                _("文件超过 %(size)s MB，请压缩后再上传。") % {"size": limits.max_bytes // MIB}
            )
        data = upload.read()
        try:
            self.ingested = accept_for_stamping_isolated(data, limits, load_platform().trust())
        except PdfTooLargeError:
            raise ValidationError(
                _("文件过大（最多 %(size)s MB、%(pages)s 页），请拆分或压缩后再上传。")
                % {"size": limits.max_bytes // MIB, "pages": limits.max_pages}
            ) from None
        except SignedActiveContentError as exc:
            raise ValidationError(
                _(
                    "该文件已含有数字签名，同时包含%(what)s。这些内容无法在不破坏已有签名的情况下"
                    "移除，不能在其上盖章。请上传未签名的原始文件，或不含这些内容的文件。"
                )
                % {"what": _active_content_words(exc.found)}
            ) from None
        except PdfError as exc:  # not a PDF, encrypted, certified, locked, broken, ...
            raise ValidationError(signing_message(exc)) from None
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        page = data.get("page")
        if self.ingested is not None and page is not None and page > self.ingested.page_count:
            count = self.ingested.page_count
            self.add_error(
                "page",
                ngettext("文件只有 %(count)s 页。", "文件只有 %(count)s 页。", count)
                % {"count": count},
            )
        return data

    @property
    def document_name(self) -> str:
        upload = self.cleaned_data["document"]
        name = str(getattr(upload, "name", "") or "").replace("\\", "/").rsplit("/", 1)[-1]
        return name.strip()[:200] or "document.pdf"


class UsageFilterForm(forms.Form):
    """用印记录 filters: by seal and by member."""

    seal = forms.ModelChoiceField(
        label=_("印章"), queryset=Seal.objects.none(), required=False, empty_label=_("全部印章")
    )
    member = MemberChoiceField(
        label=pgettext_lazy("usage log", "用印人"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("全部成员"),
    )

    def __init__(self, org: Organization, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        seal_field = self.fields["seal"]
        assert isinstance(seal_field, forms.ModelChoiceField)
        seal_field.queryset = Seal.objects.filter(org=org)
        member_field = self.fields["member"]
        assert isinstance(member_field, forms.ModelChoiceField)
        # Former members stay in the log, so offer everyone who ever used one of the seals too.
        member_field.queryset = (
            (
                User.objects.filter(memberships__org=org)
                | User.objects.filter(
                    pk__in=SealUsage.objects.filter(seal__org=org).values("user_id")
                )
            )
            .distinct()
            .select_related(IDENTITY)
            .order_by(f"{IDENTITY}__name", "phone")
        )
