"""The 导入拟签约名单 spreadsheet (单位 → 签约中心 → 签约发送) and the check of its rows.

Columns: 毕业学校, 毕业届, 姓名, 身份证号或手机号, 拟聘职位 (the first four required). A row
is looked up exactly as 签约搜索 does — school, 届, name and ID number or phone all exactly
right, or nobody, with no hint which item was wrong — and counts against the same daily limit
(:mod:`qianshu.employment.actions.candidates`). This module only reads the file and checks
what can be checked without looking anybody up: required values, a school that exists, a 届
that is a year, lengths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from qianshu.core import sheets
from qianshu.employment.models import School

MAX_ROWS = 500
POSITION_MAX = 100


class Outcome:
    """A row's result after the import."""

    ADDED = "added"
    ALREADY = "already"
    NOT_FOUND = "not_found"
    ERROR = "error"


def columns(school_names: Sequence[str] = ()) -> list[sheets.SheetColumn]:
    return [
        sheets.SheetColumn(
            "school",
            _("毕业学校"),
            _("江城理工大学"),
            required=True,
            width=24,
            validation=tuple(school_names),
        ),
        sheets.SheetColumn("year", _("毕业届"), "2026", required=True, width=10),
        sheets.SheetColumn("name", _("姓名"), _("张三"), required=True, width=12),
        sheets.SheetColumn(
            "id_or_phone", _("身份证号或手机号"), "13900000001", required=True, width=22
        ),
        sheets.SheetColumn("position", _("拟聘职位"), _("软件工程师"), width=18),
    ]


def workbook(school_names: Sequence[str] = ()) -> bytes:
    return sheets.workbook(
        columns(school_names),
        _("拟签约名单"),
        _("第 1 行是表头，第 2 行是示例（导入时忽略），请从第 3 行起每行填写一名学生。"
          "毕业学校、毕业届、姓名、身份证号或手机号四项必须与学校名单完全一致才能找到学生。"),
        MAX_ROWS,
    )  # fmt: skip


@dataclass
class CandidateRow:
    """One row of the file: its values, the school it names, and its result."""

    number: int
    values: dict[str, str]
    school: School | None = None
    year: int = 0
    outcome: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.values.get("name", "")


def read(data: bytes) -> list[CandidateRow]:
    """The rows of ``data`` (raises :class:`qianshu.core.sheets.SheetError` when the file as a
    whole cannot be used), each checked as far as it can be without a lookup: a row with
    problems has ``outcome`` :attr:`Outcome.ERROR`."""
    cols = columns()
    headers = {c.key: c.header for c in cols}
    rows = [CandidateRow(n, v) for n, v in sheets.read_rows(data, cols, MAX_ROWS)]
    names = {r.values.get("school", "") for r in rows}
    schools = {
        s.org.name: s for s in School.objects.select_related("org").filter(org__name__in=names)
    }
    for row in rows:
        _check(row, cols, headers, schools)
        if row.problems:
            row.outcome = Outcome.ERROR
    return rows


def _check(
    row: CandidateRow,
    cols: Sequence[sheets.SheetColumn],
    headers: dict[str, str],
    schools: dict[str, School],
) -> None:
    values = row.values
    for column in cols:
        if column.required and not values.get(column.key):
            row.problems.append(f"{headers[column.key]}：{_('必填')}")
    if len(values.get("position", "")) > POSITION_MAX:
        row.problems.append(f"{headers['position']}：{_('内容过长')}")
    if values.get("school"):
        row.school = schools.get(values["school"])
        if row.school is None:
            row.problems.append(f"{headers['school']}：{_('平台上没有这所学校')}")
    if values.get("year"):
        text = values["year"].removesuffix("届").strip()
        if text.isdigit() and 2000 <= int(text) <= 2100:
            row.year = int(text)
        else:
            row.problems.append(f"{headers['year']}：{_('请填写四位年份，如 2026')}")
