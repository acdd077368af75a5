"""批量发起: the template's spreadsheet, reading an uploaded one, and checking every row.

The columns follow the template version's open roles: a person's role has 姓名, 手机号 and
电子邮箱 (a phone number or an e-mail address is needed); a seal role has 组织名称, 统一社会信用
代码, 联系人 and 联系人手机号. A first column 任务名称 is optional (the template's title by
default). Row 1 is the header, row 2 an example (ignored when it is still the example).

The file is read with openpyxl in read-only (streaming) mode, one row at a time, up to
:data:`MAX_ROWS` rows, in a child process with CPU, memory and time limits (:func:`read_rows`);
every row's problems are named by row and column header (:func:`check_rows`), before anything
is sent.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from qianshu.accounts.phones import normalize_phone
from qianshu.core import sheets
from qianshu.doctemplates import datafields
from qianshu.doctemplates.snapshots import Party
from qianshu.envelopes.binding import credit_code_problem, normalise_code
from qianshu.envelopes.models import Recipient
from qianshu.identity.models import PersonIdentity

MAX_ROWS = 10_000
MAX_FILE_BYTES = sheets.MAX_FILE_BYTES
MAX_TEXT = 100
CHECK_CHUNK = 500
TITLE = "title"
XLSX_TYPE = sheets.XLSX_TYPE
SheetError = sheets.SheetError


@dataclass(frozen=True)
class Column:
    key: str  # "title" or "<role key>.<part>"
    header: str
    example: str
    role: str = ""
    part: str = ""  # name | phone | email | org_credit_code | contact_name
    required: bool = False
    width: int = 18


def columns(
    roles: Sequence[dict[str, Any]], data_fields: Sequence[dict[str, Any]] = ()
) -> list[Column]:
    """The spreadsheet's columns for a version's roles and data fields."""
    out = [Column(TITLE, _("任务名称（可不填）"), _("2026 年度考核表（示例）"), width=28)]
    for index, role in enumerate(r for r in roles if not r.get("fixed")):
        key, label = str(role["key"]), str(role["label"])
        phone = f"1390000{index + 1:04d}"
        if role["role"] == Recipient.Role.SEAL:
            parts = [
                ("name", _("组织名称"), _("示例科技有限公司"), True, 24),
                ("org_credit_code", _("统一社会信用代码"), "", False, 22),
                ("contact_name", _("联系人"), _("张三"), False, 12),
                ("phone", _("联系人手机号"), phone, True, 16),
            ]
        else:
            parts = [
                ("name", _("姓名"), _("张三"), True, 12),
                ("phone", _("手机号"), phone, False, 16),
                ("email", _("电子邮箱"), "", False, 24),
            ]
        out += [
            Column(f"{key}.{part}", f"{label}-{word}", example, key, part, required, width)
            for part, word, example, required, width in parts
        ]
    for index, data_field in enumerate(data_fields):
        required = bool(data_field.get("required")) and not data_field.get("default")
        out.append(
            Column(
                f"data.{index}",
                str(data_field["name"]),
                _example(data_field),
                part="data",
                required=required,
                width=30 if data_field["type"] == "multiline" else 16,
            )
        )
    return out


def _example(field: dict[str, Any]) -> str:
    kind = field["type"]
    if field.get("default"):
        return str(field["default"]) if kind != "checkbox" else _("是")
    return {
        "number": "100",
        "date": "2026-12-05",
        "choice": (field.get("choices") or [""])[0],
        "checkbox": _("是"),
    }.get(kind, _("示例"))


def data_of(values: dict[str, str], data_fields: Sequence[dict[str, Any]]) -> dict[str, str]:
    """A row's data field values by field name."""
    return {str(f["name"]): values.get(f"data.{i}", "") for i, f in enumerate(data_fields)}


def workbook(
    roles: Sequence[dict[str, Any]],
    sheet_title: str,
    data_fields: Sequence[dict[str, Any]] = (),
) -> bytes:
    """The template's spreadsheet: a header row, an example row, text cells, and Excel's data
    validation of phone numbers (11 digits), single choices (a list) and checkboxes (是/否)."""
    out = []
    for column in columns(roles, data_fields):
        validation: str | tuple[str, ...] = "phone" if column.part == "phone" else ""
        if column.part == "data":
            field = data_fields[int(column.key.split(".")[1])]
            if field["type"] == "choice":
                validation = tuple(field.get("choices") or ())
            elif field["type"] == "checkbox":
                validation = (_("是"), _("否"))
        out.append(
            sheets.SheetColumn(
                column.key,
                column.header,
                column.example,
                required=column.required,
                width=column.width,
                validation=validation,
            )
        )
    note = _("第 1 行是表头，第 2 行是示例（导入时忽略），请从第 3 行起每行填写一份签署任务。"
             "黄色的列必填。")  # fmt: skip
    return sheets.workbook(out, sheet_title, note, MAX_ROWS)


def read_rows(data: bytes, cols: Sequence[Column]) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, values by column key) of each non-empty row after the header (the example
    row is skipped while it is still the example), read safely by
    :func:`qianshu.core.sheets.read_rows`. Raises :class:`SheetError`."""
    simple = [sheets.SheetColumn(c.key, c.header, c.example) for c in cols]
    return sheets.read_rows(data, simple, MAX_ROWS)


@dataclass
class Checked:
    """A row after the check: its problems ("<column>：<problem>") and its parties."""

    number: int
    values: dict[str, str]
    problems: list[str] = field(default_factory=list)


def verified_names(phones: Iterable[str]) -> dict[str, str]:
    """The verified real name of the account holding each of ``phones`` (one query)."""
    return dict(
        PersonIdentity.objects.filter(user__phone__in=set(phones)).values_list(
            "user__phone", "name"
        )
    )


def check_row(
    number: int,
    values: dict[str, str],
    cols: Sequence[Column],
    seen: dict[tuple[str, ...], int],
    names: dict[str, str],
    data_fields: Sequence[dict[str, Any]] = (),
) -> Checked:
    """Check one row; ``names`` are the verified names of (at least) its phone numbers."""
    row = Checked(number, dict(values))
    by_key = {c.key: c for c in cols}

    def problem(key: str, text: str) -> None:
        row.problems.append(f"{by_key[key].header}：{text}")

    for index, data_field in enumerate(data_fields):
        try:
            value = datafields.clean_value(data_field, values.get(f"data.{index}", ""))
            datafields.check_fits(data_field, value)
        except datafields.DataError as exc:
            row.problems.append(str(exc))
    for column in cols:
        value = values.get(column.key, "")
        if column.part == "data":
            continue
        if column.required and not value:
            problem(column.key, _("必填"))
        elif len(value) > MAX_TEXT:
            problem(column.key, _("最多 %(n)d 个字") % {"n": MAX_TEXT})
    for role in {c.role for c in cols if c.role}:
        name = values.get(f"{role}.name", "")
        phone_key, email_key = f"{role}.phone", f"{role}.email"
        phone = values.get(phone_key, "")
        if phone:
            try:
                phone = normalize_phone(phone)
            except ValidationError:
                problem(phone_key, _("手机号格式不正确"))
                phone = ""
            else:
                row.values[phone_key] = phone
        email = values.get(email_key, "")
        if email:
            try:
                validate_email(email)
            except ValidationError:
                problem(email_key, _("电子邮箱格式不正确"))
        if email_key in by_key and not values.get(phone_key) and not email:
            problem(phone_key, _("请填写手机号或电子邮箱"))
        code_key = f"{role}.org_credit_code"
        if values.get(code_key):
            code = normalise_code(values[code_key])
            reason = credit_code_problem(code)
            if reason:
                problem(code_key, reason)
            row.values[code_key] = code
        verified = names.get(phone, "") if email_key in by_key else ""
        if phone and name and verified and "".join(verified.split()) != "".join(name.split()):
            problem(
                f"{role}.name",
                _("与该手机号已实名认证的姓名不一致，请核对姓名和手机号"),
            )
    key = tuple(row.values.get(c.key, "") for c in cols)
    earlier = seen.get(key)
    if earlier is not None:
        row.problems.append(_("与第 %(n)d 行重复") % {"n": earlier})
    else:
        seen[key] = number
    return row


def check_rows(
    rows: Iterator[tuple[int, dict[str, str]]],
    cols: Sequence[Column],
    data_fields: Sequence[dict[str, Any]] = (),
) -> Iterator[Checked]:
    """Check rows in chunks: one query per chunk finds the verified names of its phones."""
    seen: dict[tuple[str, ...], int] = {}
    phone_keys = [c.key for c in cols if c.part == "phone"]
    while chunk := list(itertools.islice(rows, CHECK_CHUNK)):
        phones = set()
        for _number, values in chunk:
            for key in phone_keys:
                try:
                    phones.add(normalize_phone(values.get(key, "")))
                except ValidationError:
                    continue
        names = verified_names(phones)
        for number, values in chunk:
            yield check_row(number, values, cols, seen, names, data_fields)


def parties(values: dict[str, str], roles: Sequence[dict[str, Any]]) -> dict[str, Party]:
    """The parties of a checked row, by role key."""
    out = {}
    for role in roles:
        if role.get("fixed"):
            continue
        key = str(role["key"])
        out[key] = Party(
            name=values.get(f"{key}.name", ""),
            phone=values.get(f"{key}.phone", ""),
            email=values.get(f"{key}.email", ""),
            contact_name=values.get(f"{key}.contact_name", ""),
            org_credit_code=values.get(f"{key}.org_credit_code", ""),
        )
    return out
