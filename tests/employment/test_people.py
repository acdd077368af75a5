"""Who is who: schools, the roster and its check, 信息验证, 单位审核 and 签约搜索 — including
what an attacker would try (another account, a same-named student, near-miss searches)."""

from __future__ import annotations

from typing import Any

import pytest

from qianshu.core.sheets import SheetError
from qianshu.employment import roster
from qianshu.employment.actions import employers as employer_actions
from qianshu.employment.actions import schools as school_actions
from qianshu.employment.actions import students as student_actions
from qianshu.employment.errors import EmploymentError
from qianshu.employment.models import Candidate, EmployerApproval, RosterEntry, School
from tests.employment.world import YEAR, World, roster_sheet, student_row
from tests.support.personas import make_signer, make_verified_org

pytestmark = pytest.mark.django_db


def test_only_an_operator_marks_a_verified_organisation_as_a_school(world: World) -> None:
    other = make_verified_org(world.hr1, name="某培训学校")
    with pytest.raises(EmploymentError, match="运营"):
        school_actions.do_mark_school(other, actor=world.hr1)  # its own administrator
    assert not School.objects.filter(org=other).exists()
    pending = make_verified_org(world.hr1, name="未认证学院", status="pending")
    with pytest.raises(EmploymentError, match="已认证"):
        school_actions.do_mark_school(pending, actor=world.operator)


def test_the_roster_check_names_every_problem_and_imports_nothing(world: World) -> None:
    newcomer = make_signer("newcomer", "13700000011", real_name="新同学")
    good = student_row(newcomer, "20260011")
    rows = [
        good,
        {**good, "student_no": "20260012"},  # the same ID number again
        {**student_row(newcomer, "20260013"), "id_number": "110101200001011234"},
        {**student_row(newcomer, "20260014"), "phone": "12345", "id_number": ""},
        # 学号 of 黄河, another person's ID number: not the same student
        {**student_row(make_signer("x", "13700000012", real_name="冒名"), "20260001")},
        {"student_no": "20260015", "name": "缺学院", "phone": "13700000015"},
    ]
    checked = roster.check(world.school, YEAR, roster_sheet(rows))
    problems = {r.number: r.problems for r in checked.rows if r.problems}
    assert 2 not in problems
    assert any("与第 2 行重复" in p for p in problems[3])
    assert any("身份证号" in p and "校验位" in p for p in problems[4])
    assert any(p.startswith("手机号") for p in problems[5])
    assert any(p.startswith("身份证号：必填") for p in problems[5])
    assert any("该学号已属于名单中的另一名学生" in p for p in problems[6])
    assert any(p.startswith("学院：必填") for p in problems[7])
    before = RosterEntry.objects.count()
    with pytest.raises(EmploymentError, match="未导入任何学生"):
        school_actions.do_import_roster(
            world.school, YEAR, roster_sheet(rows), actor=world.school_admin
        )
    assert RosterEntry.objects.count() == before


def test_importing_again_updates_the_same_students(world: World) -> None:
    huanghe = world.users["黄河"]
    row = {**student_row(huanghe, "20260001"), "major": "人工智能", "phone": "13700000001"}
    school_actions.do_import_roster(
        world.school, YEAR, roster_sheet([row]), actor=world.school_admin
    )
    entry = RosterEntry.objects.get(school=world.school, year=YEAR, student_no="20260001")
    assert entry.major == "人工智能" and entry.user == huanghe  # the binding is kept
    assert "1" not in entry.id_number_masked[4:-4]  # only a masked number is stored


def test_only_a_school_admin_imports(world: World) -> None:
    data = roster_sheet([student_row(world.users["黄河"], "20260001")])
    for actor in (world.college_admin, world.hr1, world.school_b_admin):
        with pytest.raises(EmploymentError):
            school_actions.do_import_roster(world.school, YEAR, data, actor=actor)


def test_an_unusable_file_is_refused_with_a_reason(world: World) -> None:
    with pytest.raises(SheetError, match="无法读取"):
        roster.check(world.school, YEAR, b"not a spreadsheet")


def test_verification_binds_the_student_whose_real_name_and_id_match(world: World) -> None:
    entry = world.students["黄河"]
    assert entry.user == world.users["黄河"] and entry.verified_at is not None
    # again: the same entry
    assert student_actions.do_verify_student(actor=world.users["黄河"]) == entry


def test_a_same_named_person_with_another_id_number_is_not_the_student(world: World) -> None:
    impostor = make_signer("impostor", "13700000021", real_name="黄河")
    with pytest.raises(EmploymentError, match="不一致"):
        student_actions.do_verify_student(actor=impostor)
    assert RosterEntry.objects.get(pk=world.students["黄河"].pk).user == world.users["黄河"]


def test_an_unverified_account_cannot_verify(world: World) -> None:
    from tests.support.accounts import make_user

    nobody = make_user("nobody", phone="13700000022")
    with pytest.raises(EmploymentError, match="实名认证"):
        student_actions.do_verify_student(actor=nobody)


def test_student_number_mode_needs_the_accounts_own_phone(world: World) -> None:
    """School B checks 学号 + 姓名 + 手机号: the phone is the account's own (verified at
    login), so knowing a classmate's 学号 and name is not enough."""
    student = make_signer("bstudent", "13700000031", real_name="洞庭")
    data = roster_sheet([student_row(student, "B0001")])
    school_actions.do_import_roster(world.school_b, YEAR, data, actor=world.school_b_admin)
    classmate = make_signer("classmate", "13700000032", real_name="鄱阳")
    with pytest.raises(EmploymentError, match="不一致"):
        student_actions.do_verify_student(
            school=world.school_b, student_no="B0001", name="洞庭", actor=classmate
        )
    with pytest.raises(EmploymentError, match="不一致"):  # right 学号, wrong name
        student_actions.do_verify_student(
            school=world.school_b, student_no="B0001", name="洞庭湖", actor=student
        )
    entry = student_actions.do_verify_student(
        school=world.school_b, student_no="B0001", name="洞庭", actor=student
    )
    assert entry.user == student


def test_verification_attempts_are_limited(world: World) -> None:
    impostor = make_signer("guesser", "13700000041", real_name="猜名")
    for _ in range(student_actions.ATTEMPTS_PER_DAY):
        with pytest.raises(EmploymentError, match="不一致"):
            student_actions.do_verify_student(actor=impostor)
    with pytest.raises(EmploymentError, match="次数已用完"):
        student_actions.do_verify_student(actor=impostor)


@pytest.mark.parametrize(
    ("name", "key", "found"),
    [
        ("黄河", "id", True),
        ("黄河", "phone", True),
        ("黄", "id", False),  # part of the name
        ("黄河 ", "phone", True),  # spaces are not a difference
        ("长江", "id", False),  # another student's name with 黄河's number
        ("黄河", "id-wrong", False),
        ("黄河", "phone-part", False),
    ],
)
def test_search_finds_a_student_only_when_all_four_items_are_right(
    world: World, name: str, key: str, found: bool
) -> None:
    user = world.users["黄河"]
    values = {
        "id": user.person_identity.id_number(),  # type: ignore[attr-defined]
        "phone": user.phone,
        "id-wrong": "110101200301010021",
        "phone-part": user.phone[:7],
    }
    result = employer_actions.do_search_student(
        world.employer, world.school, YEAR, name, values[key], actor=world.hr1
    )
    assert (result == world.students["黄河"]) if found else result is None
    # the wrong year finds nobody
    assert (
        employer_actions.do_search_student(
            world.employer, world.school, YEAR - 1, "黄河", user.phone, actor=world.hr1
        )
        is None
    )


def test_only_an_approved_employers_administrator_searches_and_lists(world: World) -> None:
    outsider = make_verified_org(world.users["长江"], name="未审核公司")
    with pytest.raises(EmploymentError, match="审核"):
        employer_actions.do_search_student(
            outsider, world.school, YEAR, "黄河", "x", actor=world.users["长江"]
        )
    with pytest.raises(EmploymentError, match="管理员"):  # a student is not the employer
        employer_actions.do_search_student(
            world.employer, world.school, YEAR, "黄河", "x", actor=world.users["黄河"]
        )
    # approved by school B only, employer 2 still invites students of school A
    found = employer_actions.do_search_student(
        world.employer2, world.school, YEAR, "长江", world.users["长江"].phone, actor=world.hr2
    )
    assert found == world.students["长江"]
    added = employer_actions.do_add_candidates(
        world.employer2, [found], position="软件工程师", actor=world.hr2
    )
    assert added == 1 and Candidate.objects.filter(employer=world.employer2).count() == 1
    assert employer_actions.do_remove_candidates(world.employer2, [found.pk], actor=world.hr2)
    assert not Candidate.objects.filter(employer=world.employer2).exists()


def test_searches_are_rate_limited_per_employer(world: World, settings: Any) -> None:
    from unittest import mock

    with mock.patch.object(employer_actions, "SEARCHES_PER_DAY", 3):
        for _ in range(3):
            employer_actions.do_search_student(
                world.employer, world.school, YEAR, "黄河", "1", actor=world.hr1
            )
        with pytest.raises(EmploymentError, match="上限"):
            employer_actions.do_search_student(
                world.employer, world.school, YEAR, "黄河", "1", actor=world.hr1
            )


def test_a_refused_employer_may_ask_again_and_only_school_admins_decide(world: World) -> None:
    org = make_verified_org(world.users["汉水"], name="新单位")
    admin = world.users["汉水"]
    approval = employer_actions.do_request_approval(world.school, org, actor=admin)
    assert approval.status == EmployerApproval.Status.PENDING
    with pytest.raises(EmploymentError):
        employer_actions.do_decide_employer(world.school, org, approve=True, actor=world.hr1)
    with pytest.raises(EmploymentError, match="原因"):
        employer_actions.do_decide_employer(
            world.school, org, approve=False, actor=world.school_admin
        )
    employer_actions.do_decide_employer(
        world.school, org, approve=False, reason="材料不全", actor=world.school_admin
    )
    again = employer_actions.do_request_approval(world.school, org, actor=admin)
    assert again.status == EmployerApproval.Status.PENDING and again.pk == approval.pk
