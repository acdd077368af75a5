"""The student roster's spreadsheet (导入学生名单) and the check of every row before import.

Columns: 学号, 姓名, 身份证号, 手机号, 学院, 专业, 班级 (the first five required). A row's
problems are named by row and column (``第 5 行 身份证号：…``): a missing value, an ID number
that is not a valid resident ID (GB 11643 check digit), a phone number that is not a mainland
mobile number, a 学号 or ID number twice in the file, or already on the roster of that 届 for
another student. A file with any problem imports nothing (:mod:`qianshu.employment.actions`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from qianshu.accounts.phones import normalize_phone
from qianshu.core import sheets
from qianshu.employment.models import RosterEntry, School
from qianshu.identity.crypto import number_hmac
from qianshu.identity.idcards import IdType, validate_resident_id

MAX_ROWS = 10_000


def columns() -> list[sheets.SheetColumn]:
    return [
        sheets.SheetColumn("student_no", _("学号"), "20230001", required=True, width=14),
        sheets.SheetColumn("name", _("姓名"), _("张三"), required=True, width=12),
        sheets.SheetColumn(
            "id_number", _("身份证号"), "110101200301010013", required=True, width=22
        ),
        sheets.SheetColumn(
            "phone", _("手机号"), "13900000001", required=True, width=16, validation="phone"
        ),
        sheets.SheetColumn(
            "college", _("学院"), _("计算机科学与技术学院"), required=True, width=24
        ),
        sheets.SheetColumn("major", _("专业"), _("软件工程"), width=18),
        sheets.SheetColumn("class_name", _("班级"), _("软件3班"), width=14),
    ]


def workbook(year: int) -> bytes:
    return sheets.workbook(
        columns(),
        _("%(year)d届学生名单") % {"year": year},
        _("第 1 行是表头，第 2 行是示例（导入时忽略），请从第 3 行起每行填写一名学生。"
          "黄色的列必填。"),
        MAX_ROWS,
    )  # fmt: skip


@dataclass
class RosterRow:
    """One row after the check: cleaned values, or its problems."""

    number: int
    values: dict[str, str]
    problems: list[str] = field(default_factory=list)
    id_hmac: str = ""


@dataclass
class RosterCheck:
    rows: list[RosterRow]

    @property
    def problems(self) -> list[RosterRow]:
        return [r for r in self.rows if r.problems]

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not self.problems


def check(school: School, year: int, data: bytes) -> RosterCheck:
    """Every row of ``data`` checked (raises :class:`qianshu.core.sheets.SheetError` when the
    file as a whole cannot be used)."""
    cols = columns()
    rows = [RosterRow(n, v) for n, v in sheets.read_rows(data, cols, MAX_ROWS)]
    headers = {c.key: c.header for c in cols}
    for row in rows:
        _check_row(row, cols, headers)
    _check_duplicates(rows, headers)
    _check_existing(school, year, rows, headers)
    return RosterCheck(rows)


def _problem(row: RosterRow, headers: dict[str, str], key: str, text: str) -> None:
    row.problems.append(f"{headers[key]}：{text}")


def _check_row(row: RosterRow, cols: Sequence[sheets.SheetColumn], headers: dict[str, str]) -> None:
    v = row.values
    for column in cols:
        if column.required and not v.get(column.key):
            _problem(row, headers, column.key, _("必填"))
        elif len(v.get(column.key, "")) > 100:
            _problem(row, headers, column.key, _("内容过长"))
    if v.get("id_number"):
        try:
            v["id_number"] = validate_resident_id(v["id_number"])
        except ValidationError as exc:
            _problem(row, headers, "id_number", " ".join(exc.messages))
        else:
            row.id_hmac = number_hmac(IdType.RESIDENT, v["id_number"])
    if v.get("phone"):
        try:
            v["phone"] = normalize_phone(v["phone"])
        except ValidationError:
            _problem(row, headers, "phone", _("手机号格式不正确"))
    if len(v.get("student_no", "")) > 32:
        _problem(row, headers, "student_no", _("学号最长 32 位"))


def _check_duplicates(rows: Iterable[RosterRow], headers: dict[str, str]) -> None:
    seen_no: dict[str, int] = {}
    seen_id: dict[str, int] = {}
    for row in rows:
        no = row.values.get("student_no", "")
        if no:
            if no in seen_no:
                _problem(row, headers, "student_no", _("与第 %(n)d 行重复") % {"n": seen_no[no]})
            seen_no.setdefault(no, row.number)
        if row.id_hmac:
            if row.id_hmac in seen_id:
                _problem(
                    row, headers, "id_number", _("与第 %(n)d 行重复") % {"n": seen_id[row.id_hmac]}
                )
            seen_id.setdefault(row.id_hmac, row.number)


def _check_existing(
    school: School, year: int, rows: Sequence[RosterRow], headers: dict[str, str]
) -> None:
    """A 学号 or ID number already on the roster belongs to that entry: the row must be the
    same student (it then updates the entry), never another one."""
    existing = RosterEntry.objects.filter(school=school, year=year)
    by_no = dict(
        existing.filter(student_no__in=[r.values.get("student_no") for r in rows]).values_list(
            "student_no", "id_number_hmac"
        )
    )
    by_id = dict(
        existing.filter(id_number_hmac__in=[r.id_hmac for r in rows if r.id_hmac]).values_list(
            "id_number_hmac", "student_no"
        )
    )
    for row in rows:
        no = row.values.get("student_no", "")
        if no in by_no and row.id_hmac and by_no[no] != row.id_hmac:
            _problem(row, headers, "student_no", _("该学号已属于名单中的另一名学生"))
        if row.id_hmac in by_id and by_id[row.id_hmac] != no:
            _problem(row, headers, "id_number", _("该身份证号已在名单中（学号 %(no)s）") % {
                "no": by_id[row.id_hmac]
            })  # fmt: skip
