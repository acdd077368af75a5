"""导入拟签约名单: the employer's spreadsheet of students to invite, row by row.

Each row is looked up by :func:`~qianshu.employment.actions.employers.do_search_student`, the
same exact four-item search as 签约搜索, so it counts against the same daily limit and says
no more than the search does (a row is "not found", never why). Found students are added to
the 签约发送列表 with the row's 拟聘职位. Rows are independent: a bad or unknown row does not
stop the others; once the daily limit is reached the remaining rows are not looked up.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core.errors import UserError
from qianshu.core.sheets import SheetError
from qianshu.employment import candidates
from qianshu.employment.actions.employers import (
    do_add_candidates,
    do_search_student,
    require_inviting_employer,
)
from qianshu.employment.candidates import CandidateRow, Outcome
from qianshu.employment.errors import EmploymentError
from qianshu.orgs.models import Organization


def do_import_candidates(org: Organization, data: bytes, *, actor: User) -> list[CandidateRow]:
    """Every row of the uploaded file with its outcome (:class:`Outcome`): added to the
    签约发送列表, already on it (its 拟聘职位 updated when given), not found, or an error."""
    require_inviting_employer(org, actor)
    try:
        rows = candidates.read(data)
    except SheetError as exc:
        raise EmploymentError(str(exc), field="file") from exc
    if not rows:
        raise EmploymentError(_("文件中没有学生，请从第 3 行起填写。"), field="file")
    limit_reached = ""
    for row in rows:
        if row.outcome:
            continue
        if limit_reached:
            row.outcome, row.problems = Outcome.ERROR, [limit_reached]
            continue
        try:
            _import_row(org, row, actor)
        except UserError as exc:
            row.outcome, row.problems = Outcome.ERROR, [str(exc)]
            if exc.status == 429:
                limit_reached = str(exc)
    return rows


def _import_row(org: Organization, row: CandidateRow, actor: User) -> None:
    assert row.school is not None
    student = do_search_student(
        org, row.school, row.year, row.name, row.values["id_or_phone"], actor=actor
    )
    if student is None:
        row.outcome = Outcome.NOT_FOUND
        return
    added = do_add_candidates(org, [student], position=row.values.get("position", ""), actor=actor)
    row.outcome = Outcome.ADDED if added else Outcome.ALREADY
