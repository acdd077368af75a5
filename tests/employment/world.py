"""The people of the employment tests: two schools, two employers, their students.

- 江城理工大学 (school A, checks by ID number): 学校管理员 school_admin (also holds the
  school's seal), 学院管理员 college_admin of 计算机学院; roster 2026届: the students below.
- 汉江师范学院 (school B, checks by 学号 + name + phone): its admin school_b_admin.
- 星光集团 (employer 1, approved by school A): admin hr1 with its contract seal.
- 楚天科技 (employer 2, approved by school B): admin hr2 with its seal.
- Students of A: 黄河 (计算机学院), 长江 (计算机学院), 汉水 (外国语学院), each a verified
  person with a signing PIN, bound to their roster entries (信息验证 done).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from openpyxl import load_workbook

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.employment import roster
from qianshu.employment.actions import employers as employer_actions
from qianshu.employment.actions import schools as school_actions
from qianshu.employment.actions import students as student_actions
from qianshu.employment.models import College, RosterEntry, School, Staff
from qianshu.orgs.models import Membership, Organization, Seal
from qianshu.pki.actions import do_init_pki
from tests.support.accounts import make_user
from tests.support.personas import PIN, make_seal_org, make_signer, seal_of

YEAR = 2026
COMPUTING, LANGUAGES = "计算机学院", "外国语学院"


@dataclass
class World:
    operator: User
    school: School
    school_b: School
    school_admin: User
    college_admin: User
    school_b_admin: User
    employer: Organization
    employer2: Organization
    hr1: User
    hr2: User
    students: dict[str, RosterEntry]  # by name
    users: dict[str, User]  # the students' accounts, by name

    def seal_uuid(self, org: Organization) -> str:
        return str(seal_of(org).uuid)


def roster_sheet(rows: list[dict[str, str]], *, keep_example: bool = False) -> bytes:
    """The downloaded roster template filled with ``rows`` (values by column key)."""
    keys = [c.key for c in roster.columns()]
    book = load_workbook(io.BytesIO(roster.workbook(YEAR)))
    sheet = book.active
    assert sheet is not None
    if not keep_example:
        sheet.delete_rows(2)
    for values in rows:
        sheet.append([values.get(k, "") for k in keys])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def student_row(user: User, student_no: str, college: str = COMPUTING) -> dict[str, str]:
    identity = user.person_identity  # type: ignore[attr-defined]
    return {
        "student_no": student_no,
        "name": identity.name,
        "id_number": identity.id_number(),
        "phone": user.phone,
        "college": college,
        "major": "软件工程",
        "class_name": "软件3班",
    }


def make_world(**_: Any) -> World:
    do_init_pki(name="测试平台")
    operator = make_user("operator", phone="13600000001")
    operator.is_staff = True
    operator.save(update_fields=["is_staff"])
    school_admin = make_signer("school_admin", "13600000002", real_name="郑校办")
    college_admin = make_signer("college_admin", "13600000003", real_name="钱院办")
    school_b_admin = make_signer("school_b_admin", "13600000004", real_name="孙师院")
    school_org = make_seal_org(school_admin, "江城理工大学", kind=Seal.Kind.OFFICIAL)
    Membership.objects.create(org=school_org, user=college_admin, role=Membership.Role.MEMBER)
    school_b_org = make_seal_org(school_b_admin, "汉江师范学院", kind=Seal.Kind.OFFICIAL)
    hr1 = make_signer("hr1", "13600000005", real_name="王人事")
    hr2 = make_signer("hr2", "13600000006", real_name="李人事")
    employer = make_seal_org(hr1, "星光集团")
    employer2 = make_seal_org(hr2, "楚天科技")
    school = school_actions.do_mark_school(school_org, actor=operator)
    school_b = school_actions.do_mark_school(
        school_b_org, check_mode=School.CheckMode.STUDENT_NO, actor=operator
    )
    users = {
        name: make_signer(f"student{i}", f"1370000000{i}", real_name=name)
        for i, name in enumerate(("黄河", "长江", "汉水"), start=1)
    }
    rows = [
        student_row(users["黄河"], "20260001"),
        student_row(users["长江"], "20260002"),
        student_row(users["汉水"], "20260003", LANGUAGES),
    ]
    school_actions.do_import_roster(school, YEAR, roster_sheet(rows), actor=school_admin)
    computing = College.objects.get(school=school, name=COMPUTING)
    Staff.objects.create(
        school=school, user=college_admin, role=Staff.Role.COLLEGE_ADMIN, college=computing
    )
    for user in users.values():
        student_actions.do_verify_student(actor=user)
    for org, admin, sch, sch_admin in (
        (employer, hr1, school, school_admin),
        (employer2, hr2, school_b, school_b_admin),
    ):
        employer_actions.do_request_approval(sch, org, actor=admin)
        employer_actions.do_decide_employer(sch, org, approve=True, actor=sch_admin)
        employer_actions.do_confirm_profile(
            org,
            basic={"nature": "国有企业", "industry": "制造业", "location": "湖北省武汉市"},
            archive={"unit": f"{org.name}人力资源部", "address": "武汉市光谷大道 1 号"},
            hukou={"address": "武汉市东湖高新区"},
            actor=admin,
        )
    students = {e.name: e for e in RosterEntry.objects.filter(school=school)}
    assert TASK is not None and PIN
    return World(
        operator=operator,
        school=school,
        school_b=school_b,
        school_admin=school_admin,
        college_admin=college_admin,
        school_b_admin=school_b_admin,
        employer=employer,
        employer2=employer2,
        hr1=hr1,
        hr2=hr2,
        students=students,
        users=users,
    )
