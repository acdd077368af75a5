"""Forms of the seal pages: the generator's specification, the photo upload, the save of a
cleaned photo and the destroy confirmation. Every error message is for the user."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from qianshu.orgs import seal_specs
from qianshu.orgs.models import Organization, Seal
from qianshu.orgs.seal_specs import CodeMode, Shape, Suffix
from qianshu.orgs.seals import MAX_PHOTO_BYTES, SealError, clean_seal_name, render_problem
from qianshu.signing.errors import ImageError
from qianshu.signing.seals import CODE_DIGITS, MAX_NAME_CHARS, SealSpec, square_seal_text


def _number(label: Any, low: float, high: float, *, step: str, **kw: Any) -> Any:
    messages = {
        "required": _("请输入数值。"),
        "invalid": _("请输入数字。"),
        "min_value": _("不能小于 %(limit_value)s。"),
        "max_value": _("不能大于 %(limit_value)s。"),
        "max_decimal_places": _("最多保留一位小数。"),
        "max_digits": _("数值过长。"),
        "max_whole_digits": _("数值过长。"),
    }
    attrs = {"step": step, "min": str(low), "max": str(high), "inputmode": "decimal"}
    return forms.DecimalField(
        label=label,
        min_value=Decimal(str(low)),
        max_value=Decimal(str(high)),
        max_digits=4,
        decimal_places=1,
        error_messages=messages,
        widget=forms.NumberInput(attrs=attrs),
        **kw,
    )


SQUARE_UNUSED = (
    "width_mm",
    "height_mm",
    "seal_text",
    "name_font_mm",
    "text_font_mm",
    "code_font_mm",
    "spacing_deg",
    "code_mode",
    "code",
    "star",
)


class SealSpecForm(forms.Form):
    """自动生成: the seal name and its editable specification, for one seal type.

    ``is_valid()`` also builds the render spec (``self.spec``) and the parameters to store
    (``self.params``); what the renderer refuses becomes a form error.
    """

    name = forms.CharField(
        label=_("印章名称"),
        max_length=40,
        help_text=_("证书中的印章名称，最多 16 个字。"),
        error_messages={"required": _("请输入印章名称。"), "max_length": _("印章名称过长。")},
    )
    shape = forms.ChoiceField(
        label=_("印章形状"),
        choices=Shape.choices,
        error_messages={"required": _("请选择印章形状。"), "invalid_choice": _("请选择印章形状。")},
    )
    size_mm = _number(_("直径（mm）"), 12, 60, step="1", required=False)
    width_mm = _number(_("宽度（mm）"), *seal_specs.OVAL_WIDTH_MM, step="1", required=False)
    height_mm = _number(_("高度（mm）"), *seal_specs.OVAL_HEIGHT_MM, step="1", required=False)
    seal_text = forms.CharField(
        label=_("下方文字"),
        max_length=seal_specs.MAX_SEAL_TEXT_CHARS,
        required=False,
        help_text=_("五角星下方的文字，可留空。"),
        error_messages={"max_length": _("下方文字最多 16 个字。")},
    )
    name_font_mm = _number(
        _("名称字号（mm）"), 1, 20, step="0.1", required=False, help_text=_("留空为自动")
    )
    text_font_mm = _number(
        _("下方文字字号（mm）"), 1, 20, step="0.1", required=False, help_text=_("留空为自动")
    )
    code_font_mm = _number(
        _("编码字号（mm）"), 1, 20, step="0.1", required=False, help_text=_("留空为自动")
    )
    spacing_deg = _number(
        _("字间距（°）"),
        *seal_specs.SPACING_DEG,
        step="1",
        required=False,
        help_text=_("相邻两字之间的角度，留空为自动"),
    )
    code_mode = forms.ChoiceField(
        label=_("印章编码"),
        choices=CodeMode.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择印章编码。"), "invalid_choice": _("请选择印章编码。")},
    )
    code = forms.CharField(
        label=_("自定义编码"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=_("13 位数字，印在下弧。"),
    )
    star = forms.BooleanField(label=_("显示五角星"), required=False)
    suffix = forms.ChoiceField(
        label=_("姓名后缀"),
        choices=Suffix.choices,
        required=False,
        error_messages={"invalid_choice": _("请选择姓名后缀。")},
    )

    def __init__(
        self, org: Organization, kind: str, *args: Any, preview: bool = False, **kwargs: Any
    ) -> None:
        self.org = org
        self.kind = kind
        # The preview draws no seal name: a half-typed name must not stop it.
        self.preview = preview
        self.spec: SealSpec | None = None
        self.params: dict[str, Any] = {}
        kwargs.setdefault("initial", seal_specs.default_params(org, kind))
        super().__init__(*args, **kwargs)
        shape_field = self.fields["shape"]
        assert isinstance(shape_field, forms.ChoiceField)
        shape_field.choices = seal_specs.shapes_for(kind)
        if preview:
            del self.fields["name"]
        if self.is_square:
            for field in SQUARE_UNUSED:
                del self.fields[field]
            self.fields["size_mm"].label = _("边长（mm）")
        else:
            del self.fields["suffix"]
        if not self.is_square and not seal_specs.credit_code_digits(org):
            code_field = self.fields["code_mode"]
            assert isinstance(code_field, forms.ChoiceField)
            code_field.choices = [c for c in CodeMode.choices if c[0] != CodeMode.CREDIT]

    @property
    def is_square(self) -> bool:
        return self.kind == Seal.Kind.LEGAL_REP

    def clean_name(self) -> str:
        try:
            return clean_seal_name(self.cleaned_data.get("name", ""))
        except SealError as exc:
            raise ValidationError(str(exc)) from None

    def clean_seal_text(self) -> str:
        text = " ".join(str(self.cleaned_data.get("seal_text") or "").split())
        if any(not ch.isprintable() for ch in text):
            raise ValidationError(_("下方文字含有无法显示的字符。"))
        return text

    def clean_code(self) -> str:
        return "".join(str(self.cleaned_data.get("code") or "").split())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        if self.is_square:
            self._clean_square(data)
        else:
            self._clean_round(data)
        if self.errors:
            return data
        self.params = self._params(data)
        try:
            self.spec = seal_specs.build_spec(self.org, self.params)
        except ImageError as exc:
            raise ValidationError(render_problem(exc)) from None
        return data

    def _clean_square(self, data: dict[str, Any]) -> None:
        name = self.org.legal_rep_name.strip()
        if not name:
            raise ValidationError(_("组织没有登记法定代表人姓名，无法生成法定代表人章。"))
        data["shape"] = Shape.SQUARE
        data["suffix"] = data.get("suffix") or Suffix.AUTO
        suffix = data["suffix"]
        chosen = None if suffix == Suffix.AUTO else "" if suffix == Suffix.NONE else suffix
        if len(square_seal_text(name, chosen)) > 16:
            self.add_error("suffix", _("法定代表人姓名过长，方形印章排不下。"))
        self._require_size(data, "size_mm", seal_specs.SQUARE_SIZE_MM)

    def _clean_round(self, data: dict[str, Any]) -> None:
        if len(self.org.name.strip()) > MAX_NAME_CHARS:
            raise ValidationError(
                _("组织名称超过 %(n)d 个字，无法自动生成印章，请改用上传图片。")
                % {"n": MAX_NAME_CHARS}
            )
        shape = data.get("shape")
        if shape == Shape.OVAL:
            self._require_size(data, "width_mm", seal_specs.OVAL_WIDTH_MM)
            self._require_size(data, "height_mm", seal_specs.OVAL_HEIGHT_MM)
            width, height = data.get("width_mm"), data.get("height_mm")
            if width and height and not width / 2 <= height <= width:
                self.add_error("height_mm", _("椭圆的高度应在宽度的一半到等于宽度之间。"))
            small = min(width or 0, height or 0)
        else:
            self._require_size(data, "size_mm", seal_specs.ROUND_SIZE_MM)
            small = data.get("size_mm") or 0
        # The renderer allows text up to a third of the short side.
        limit = Decimal(small) / 3
        for field in ("name_font_mm", "text_font_mm", "code_font_mm"):
            value = data.get(field)
            if value is not None and small and value > limit:
                self.add_error(
                    field,
                    _("字号不能大于 %(mm)s mm（印章尺寸的三分之一）。") % {"mm": f"{limit:.1f}"},
                )
        spacing = data.get("spacing_deg")
        if shape == Shape.ROUND and spacing is not None:
            n = len(self.org.name.strip())
            if spacing * n > seal_specs.MAX_ARC_DEG:
                most = seal_specs.MAX_ARC_DEG // max(n, 1)
                self.add_error(
                    "spacing_deg",
                    _("字间距过大：%(n)d 个字最多 %(most)d°。") % {"n": n, "most": most},
                )
        mode = data.get("code_mode")
        if mode == CodeMode.CUSTOM:
            code = data.get("code") or ""
            if not (len(code) == CODE_DIGITS and code.isascii() and code.isdigit()):
                self.add_error("code", _("自定义编码应为 13 位数字。"))
        elif mode == CodeMode.CREDIT and not seal_specs.credit_code_digits(self.org):
            self.add_error("code_mode", _("组织没有统一社会信用代码，请选择自定义编码或不显示。"))

    def _require_size(self, data: dict[str, Any], field: str, bounds: tuple[int, int]) -> None:
        value = data.get(field)
        low, high = bounds
        if value is None:
            self.add_error(
                field, _("请输入印章尺寸（%(low)d–%(high)d mm）。") % {"low": low, "high": high}
            )
        elif not low <= value <= high or value != value.to_integral_value():
            self.add_error(
                field, _("尺寸应为 %(low)d–%(high)d mm 的整数。") % {"low": low, "high": high}
            )

    def _params(self, data: dict[str, Any]) -> dict[str, Any]:
        """The cleaned parameters in JSON form (Decimal → int / float)."""

        def mm(field: str, *, whole: bool = False) -> float | int | None:
            value = data.get(field)
            if value is None:
                return None
            return int(value) if whole else float(value)

        defaults = seal_specs.default_params(self.org, self.kind)
        if self.is_square:
            return {
                **defaults,
                "name": data.get("name", ""),
                "shape": Shape.SQUARE.value,
                "size_mm": mm("size_mm", whole=True),
                "suffix": str(data["suffix"]),
                "star": False,
                "code_mode": CodeMode.NONE.value,
            }
        shape = str(data["shape"])
        return {
            **defaults,
            "name": data.get("name", ""),
            "shape": shape,
            "size_mm": mm("size_mm", whole=True) if shape == Shape.ROUND else defaults["size_mm"],
            "width_mm": mm("width_mm", whole=True) if shape == Shape.OVAL else defaults["width_mm"],
            "height_mm": (
                mm("height_mm", whole=True) if shape == Shape.OVAL else defaults["height_mm"]
            ),
            "seal_text": data.get("seal_text") or "",
            "name_font_mm": mm("name_font_mm"),
            "text_font_mm": mm("text_font_mm"),
            "code_font_mm": mm("code_font_mm"),
            "spacing_deg": mm("spacing_deg") if shape == Shape.ROUND else None,
            "code_mode": str(data["code_mode"]),
            "code": (data.get("code") or "") if data["code_mode"] == CodeMode.CUSTOM else "",
            "star": bool(data.get("star")),
            "suffix": Suffix.AUTO.value,
        }


class SealPhotoForm(forms.Form):
    """上传图片: a photo or scan of the physical seal's impression."""

    image = forms.FileField(
        label=_("印章图片"),
        help_text=_("将印章盖在白纸上，正对章面拍照或扫描；JPG、PNG 等格式，不超过 10 MB。"),
        error_messages={
            "required": _("请选择要上传的印章图片。"),
            "empty": _("文件为空，请重新选择印章图片。"),
            "invalid": _("没有收到文件，请重新选择印章图片。"),
        },
        widget=forms.FileInput(attrs={"accept": "image/*", "data-testid": "seal-photo-input"}),
    )

    def clean_image(self) -> Any:
        upload = self.cleaned_data["image"]
        if upload.size is not None and upload.size > MAX_PHOTO_BYTES:
            raise ValidationError(
                _("图片不能超过 %(mb)d MB，请压缩后再上传。")
                % {"mb": MAX_PHOTO_BYTES // (1024 * 1024)}
            )
        return upload


class SealKindSelect(forms.Select):
    """The seal type; each option carries the name a seal of that type starts with (Chinese,
    whatever the page's language), which the name field follows (seal-editor.js)."""

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(*args, **kwargs)
        if option["value"]:
            option["attrs"]["data-seal-name"] = seal_specs.default_name(str(option["value"]))
        return option


class SealPhotoSaveForm(forms.Form):
    """保存 a cleaned photo: its name and type."""

    reference = forms.CharField(widget=forms.HiddenInput)
    kind = forms.ChoiceField(
        label=_("印章类型"),
        choices=Seal.Kind.choices,
        widget=SealKindSelect(attrs={"data-name-follows": "id_name"}),
        error_messages={"required": _("请选择印章类型。"), "invalid_choice": _("请选择印章类型。")},
    )
    name = forms.CharField(
        label=_("印章名称"),
        max_length=40,
        help_text=_("与实体印章上的名称一致，最多 16 个字。"),
        error_messages={"required": _("请输入印章名称。"), "max_length": _("印章名称过长。")},
    )

    def clean_name(self) -> str:
        try:
            return clean_seal_name(self.cleaned_data.get("name", ""))
        except SealError as exc:
            raise ValidationError(str(exc)) from None


class DestroySealForm(forms.Form):
    """销毁: the administrator types the seal's name to confirm."""

    confirm_name = forms.CharField(
        label=_("请输入印章名称以确认销毁"),
        max_length=40,
        error_messages={"required": _("请输入印章名称以确认销毁。")},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, seal: Seal, *args: Any, **kwargs: Any) -> None:
        self.seal = seal
        super().__init__(*args, **kwargs)

    def clean_confirm_name(self) -> str:
        typed = " ".join(str(self.cleaned_data.get("confirm_name") or "").split())
        if typed != self.seal.name:
            raise ValidationError(_("输入的名称与印章名称不一致，印章未销毁。"))
        return typed
