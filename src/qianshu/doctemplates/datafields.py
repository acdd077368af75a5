"""Data fields (数据字段) of a template: what the sender fills from data when the template is
used — on the 使用模板 form, in a column of the 批量发起 spreadsheet, or as ``data`` in the
API — written into the document as real PDF text before it is sent (and certified), so every
signature covers them (:mod:`qianshu.signing.filltext`).

A data field in a version's ``data_fields`` JSON::

    {"name": "工号", "type": "text", "required": true, "default": "", "max_length": 20,
     "choices": [], "document": 0, "page": 0, "rect": [x1, y1, x2, y2]}

``type`` is one of :data:`TYPES`. Values are cleaned by :func:`clean_value` (the same rules on
every path), then laid out by :func:`fill_for`; :func:`check_fits` says whether a value fits its
box without building a PDF (the spreadsheet's check page).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qianshu.core.errors import fill_message
from qianshu.doctemplates.errors import TemplateError
from qianshu.signing import filltext
from qianshu.signing.stamps import Rect

TYPES = {
    "text": gettext_lazy("单行文本"),
    "multiline": gettext_lazy("多行文本"),
    "number": gettext_lazy("数字"),
    "date": gettext_lazy("日期"),
    "choice": gettext_lazy("单选"),
    "checkbox": gettext_lazy("勾选框"),
}
MAX_NAME = 20
MAX_VALUE = 500
MAX_CHOICES = 50
YES = ("是", "√", "✓", "1", "true", "yes", "y", "on")
NO = ("否", "", "0", "false", "no", "n", "off")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")


class DataError(TemplateError):
    """A data field's value was refused; the message names the field."""

    code = "invalid_data"


def clean_definition(raw: Mapping[str, Any], position: tuple[int, int, Rect]) -> dict[str, Any]:
    """A data field's definition from the save form (raises :class:`TemplateError`)."""
    name = " ".join(str(raw.get("name") or "").split())
    if not name:
        raise TemplateError(_("请为每个由发起方填写的文本字段填写字段名称。"))
    if len(name) > MAX_NAME:
        raise TemplateError(_("字段名称最多 %(n)d 个字。") % {"n": MAX_NAME})
    kind = str(raw.get("type") or "text")
    if kind not in TYPES:
        raise TemplateError(_("字段“%(name)s”的类型无效。") % {"name": name})
    parts = re.split(r"[,，、\n]", str(raw.get("choices") or ""))
    choices = [c for c in (" ".join(x.split()) for x in parts) if c]
    if kind == "choice" and not choices:
        raise TemplateError(_("单选字段“%(name)s”需要填写选项（用逗号分隔）。") % {"name": name})
    if len(choices) > MAX_CHOICES:
        raise TemplateError(_("选项最多 %(n)d 个。") % {"n": MAX_CHOICES})
    try:
        max_length = int(raw.get("max_length") or 0)
    except (TypeError, ValueError):
        max_length = 0
    document, page, rect = position
    field: dict[str, Any] = {
        "name": name,
        "type": kind,
        "required": bool(raw.get("required")),
        "default": "",
        "max_length": max(0, min(max_length, MAX_VALUE)),
        "choices": choices if kind == "choice" else [],
        "document": document,
        "page": page,
        "rect": [rect.x1, rect.y1, rect.x2, rect.y2],
    }
    default = str(raw.get("default") or "").strip()
    if default:
        field["default"] = clean_value(field, default)
    return field


def clean_value(field: Mapping[str, Any], raw: object) -> str:
    """The value to write for ``field`` ("" for none); raises :class:`DataError` naming the
    field: a required value missing, too long, not a number, not a date, not one of the
    choices, not a yes/no."""
    name = str(field["name"])
    text = str(raw if raw is not None else "").strip()
    if field["type"] != "multiline":
        text = " ".join(text.split())
    if not text:
        text = str(field.get("default") or "")
    if not text:
        if field.get("required"):
            raise DataError(_("请填写“%(name)s”。") % {"name": name}, field=name)
        return ""
    limit = int(field.get("max_length") or 0) or MAX_VALUE
    if len(text) > limit:
        raise DataError(_("“%(name)s”最多 %(n)d 个字。") % {"name": name, "n": limit}, field=name)
    kind = field["type"]
    if kind == "number":
        try:
            number = Decimal(text.replace(",", ""))
        except InvalidOperation:
            raise DataError(_("“%(name)s”应为数字。") % {"name": name}, field=name) from None
        if not number.is_finite():
            raise DataError(_("“%(name)s”应为数字。") % {"name": name}, field=name)
        return text.replace(",", "")
    if kind == "date":
        for pattern in _DATE_FORMATS:
            try:
                day = dt.datetime.strptime(text, pattern).date()
            except ValueError:
                continue
            return day.strftime("%Y年%m月%d日")
        raise DataError(_("“%(name)s”应为日期，例如 2026-12-05。") % {"name": name}, field=name)
    if kind == "choice" and text not in field.get("choices", []):
        raise DataError(
            _("“%(name)s”只能是：%(choices)s")
            % {"name": name, "choices": "、".join(field.get("choices", []))},
            field=name,
        )
    if kind == "checkbox":
        lowered = text.lower()
        if lowered in YES:
            return filltext.CHECK_MARK
        if lowered in NO:
            return ""
        raise DataError(_("“%(name)s”请填写“是”或“否”。") % {"name": name}, field=name)
    return text


def text_fill(field: Mapping[str, Any], value: str) -> filltext.TextFill:
    return filltext.TextFill(
        name=str(field["name"]),
        page=int(field["page"]),
        rect=Rect(*(float(v) for v in field["rect"])),
        value=value,
        multiline=field["type"] == "multiline",
        align="center" if field["type"] == "checkbox" else "left",
    )


def _fill_problem(exc: filltext.FillError, name: str) -> DataError:
    return DataError(fill_message(exc, name), field=name)


def check_fits(field: Mapping[str, Any], value: str) -> None:
    """Raise :class:`DataError` when ``value`` does not fit ``field``'s box (no PDF built)."""
    if not value:
        return
    try:
        filltext.measure(text_fill(field, value))
    except filltext.FillError as exc:
        raise _fill_problem(exc, str(field["name"])) from exc


def clean_data(fields: Sequence[Mapping[str, Any]], data: Mapping[str, object]) -> dict[str, str]:
    """Every data field's cleaned value (by name); unknown names are refused."""
    names = {str(f["name"]) for f in fields}
    unknown = sorted(set(data) - names)
    if unknown:
        raise DataError(
            _("模板中没有数据字段：%(names)s") % {"names": "、".join(unknown)}, field="data"
        )
    out = {}
    for field in fields:
        value = clean_value(field, data.get(str(field["name"])))
        check_fits(field, value)
        out[str(field["name"])] = value
    return out


def fill_document(
    data: bytes, position: int, fields: Sequence[Mapping[str, Any]], values: Mapping[str, str]
) -> bytes:
    """The document at ``position`` with the values of its data fields written in."""
    fills = [
        text_fill(f, values[str(f["name"])])
        for f in fields
        if int(f["document"]) == position and values.get(str(f["name"]))
    ]
    if not fills:
        return data
    try:
        return filltext.fill_text(data, fills)
    except filltext.FillError as exc:
        raise _fill_problem(exc, exc.field or "") from exc
