"""The employer's pages (单位用户中心, 签约中心, 数据管理, 解约中心) through the views: first use,
签约搜索 that leaks nothing, 导入拟签约名单, the 签约发送列表, the 邀请函 and 确认发送, 已应约
and its download, 解约办理 — and who may see what."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from qianshu.accounts.models import User
from qianshu.employment import candidates
from qianshu.employment.actions import employers as employer_actions
from qianshu.employment.models import (
    Agreement,
    Candidate,
    EmployerApproval,
    EmployerProfile,
    RosterEntry,
    Termination,
)
from qianshu.orgs.context import SESSION_KEY
from qianshu.orgs.models import Membership, Organization
from tests.employment.world import YEAR, World
from tests.identity.helpers import logged_in
from tests.support.personas import make_signer, make_verified_org

pytestmark = pytest.mark.django_db

SEND = reverse("employment:employer-send")
NOT_FOUND = "未找到符合条件的学生，请核对四项信息"


def acting(user: User, org: Organization | None) -> Client:
    """A client logged in as ``user`` acting for ``org`` (the top bar's switcher)."""
    client = logged_in(user)
    if org is not None:
        session = client.session
        session[SESSION_KEY] = str(org.uuid)
        session.save()
    return client


def html(response: Any) -> str:
    return str(response.content.decode())


def id_number(user: User) -> str:
    return str(user.person_identity.id_number())


def search(client: Client, world: World, name: str, key: str, year: int = YEAR) -> Any:
    return client.post(
        SEND,
        {
            "op": "search",
            "school": world.school.pk,
            "year": year,
            "name": name,
            "id_or_phone": key,
        },
    )


def invited(world: World, name: str, status: str = Agreement.Status.ACCEPTED) -> Agreement:
    """An agreement of employer 1 with a student, made directly (no envelope): for the lists
    and the permission checks, which do not need the agreement PDF."""
    return Agreement.objects.create(
        number=f"JYTEST{name.encode().hex()[:8]}",
        mode=Agreement.Mode.ONLINE,
        status=status,
        student=world.students[name],
        employer=world.employer,
        terms={"position": "软件工程师"},
        archive={"unit": "星光集团人力资源部"},
        employer_info={"name": world.employer.name},
        deadline=timezone.now() + dt.timedelta(days=5),
        answered_at=timezone.now(),
        created_by=world.hr1,
    )


# --- first use ---------------------------------------------------------------------------------


def test_first_use_confirms_the_profile_then_asks_a_school(world: World) -> None:
    boss = make_signer("boss", "13700000051", real_name="赵老板")
    org = make_verified_org(boss, name="新星公司")
    client = acting(boss, org)
    home = reverse("employment:employer-home")
    assert client.get(home)["Location"] == reverse("employment:employer-profile")
    page = html(client.get(reverse("employment:employer-profile")))
    assert "确认签约信息" in page and 'data-testid="first-use"' in page
    # 档案接收单位 is required: the message, and what was typed is kept
    missing = client.post(
        reverse("employment:employer-profile"),
        {"basic_nature": "民营企业", "hukou_address": "武汉市洪山区"},
    )
    assert missing.status_code == 400
    assert "民营企业" in html(missing) and "武汉市洪山区" in html(missing)
    assert not EmployerProfile.objects.filter(org=org).exists()
    done = client.post(
        reverse("employment:employer-profile"),
        {"basic_nature": "民营企业", "archive_unit": "新星公司人事部", "hukou_address": "武汉"},
    )
    assert done["Location"] == home
    profile = EmployerProfile.objects.get(org=org)
    assert profile.archive == {"unit": "新星公司人事部"} and profile.basic["nature"] == "民营企业"
    # not approved by any school yet: 申请学校审核
    approval = reverse("employment:employer-approval")
    assert client.get(home)["Location"] == approval
    assert "单位需经任一学校审核通过" in html(client.get(approval))
    assert client.get(SEND).status_code == 302  # no inviting before an approval
    client.post(approval, {"school": world.school.pk})
    request = EmployerApproval.objects.get(employer=org)
    assert request.status == EmployerApproval.Status.PENDING
    employer_actions.do_decide_employer(
        world.school, org, approve=False, reason="材料不全", actor=world.school_admin
    )
    page = html(client.get(approval))
    assert "审核不通过" in page and "材料不全" in page
    assert f'value="{world.school.pk}"' in page  # a refused employer may ask again
    employer_actions.do_decide_employer(world.school, org, approve=True, actor=world.school_admin)
    page = html(client.get(home))
    assert 'data-testid="employer-info"' in page and "新星公司" in page
    assert re.search(r'data-testid="todo-invitations"><strong>0<', page)


def test_a_bad_school_choice_is_a_message_not_an_error(world: World) -> None:
    boss = make_signer("boss", "13700000052", real_name="钱老板")
    org = make_verified_org(boss, name="新月公司")
    client = acting(boss, org)
    response = client.post(reverse("employment:employer-approval"), {"school": "999999"})
    assert response.status_code == 400 and "errorlist" in html(response)
    assert not EmployerApproval.objects.filter(employer=org).exists()


# --- 签约搜索 ------------------------------------------------------------------------------------


def test_search_finds_with_four_right_items_and_shows_nothing_with_one_wrong(
    world: World,
) -> None:
    client = acting(world.hr1, world.employer)
    student, user = world.students["长江"], world.users["长江"]
    found = html(search(client, world, "长江", id_number(user)))
    assert 'data-testid="found-name">长江<' in found and str(student.uuid) in found
    for name, key, year in (
        ("长", id_number(user), YEAR),  # part of the name
        ("长江", user.phone[:7], YEAR),  # part of the phone
        ("长江", world.users["黄河"].phone, YEAR),  # another student's phone
        ("长江", user.phone, YEAR - 1),  # another 届
    ):
        page = html(search(client, world, name, key, year))
        assert NOT_FOUND in page
        assert str(student.uuid) not in page and 'data-testid="search-found"' not in page
        assert "计算机学院" not in page  # nothing about the student on the page
    # an item left out: the form says which field, nobody is looked up
    response = client.post(SEND, {"op": "search", "school": world.school.pk, "name": "长江"})
    assert response.status_code == 400 and NOT_FOUND not in html(response)


def test_only_a_student_the_employer_found_can_be_added(world: World) -> None:
    client = acting(world.hr1, world.employer)
    student = world.students["汉水"]
    response = client.post(
        SEND, {"op": "add", "found": str(student.uuid), "position": "翻译"}, follow=True
    )
    assert "请先搜索到该学生再加入" in html(response)
    assert not Candidate.objects.filter(employer=world.employer).exists()
    search(client, world, "汉水", world.users["汉水"].phone)
    response = client.post(
        SEND, {"op": "add", "found": str(student.uuid), "position": "翻译"}, follow=True
    )
    assert "已加入签约发送列表" in html(response)
    candidate = Candidate.objects.get(employer=world.employer)
    assert candidate.student == student and candidate.position == "翻译"
    # what hr1 found is of no use to employer 2's admin
    other = acting(world.hr2, world.employer2)
    other.post(SEND, {"op": "add", "found": str(student.uuid)})
    assert not Candidate.objects.filter(employer=world.employer2).exists()


def test_candidates_are_removed_from_the_list(world: World) -> None:
    client = acting(world.hr1, world.employer)
    employer_actions.do_add_candidates(
        world.employer, list(world.students.values()), position="工程师", actor=world.hr1
    )
    page = html(client.get(SEND))
    assert page.count('data-testid="candidate-row"') == 3
    nothing = client.post(SEND, {"op": "remove"}, follow=True)
    assert "请先勾选要移出的学生" in html(nothing)
    gone = [str(world.students["黄河"].uuid), str(world.students["长江"].uuid), "not-a-uuid"]
    response = client.post(SEND, {"op": "remove", "student": gone}, follow=True)
    assert "已移出 2 名学生" in html(response)
    left = Candidate.objects.filter(employer=world.employer)
    assert [c.student.name for c in left] == ["汉水"]


# --- 导入拟签约名单 ------------------------------------------------------------------------------


def candidate_sheet(rows: list[list[object]]) -> bytes:
    book = load_workbook(io.BytesIO(candidates.workbook(["江城理工大学"])))
    sheet = book.active
    assert sheet is not None
    sheet.delete_rows(2)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client: Client, data: bytes) -> Any:
    file = io.BytesIO(data)
    file.name = "名单.xlsx"
    return client.post(reverse("employment:employer-import"), {"file": file}, follow=True)


def test_the_import_template_has_the_manuals_columns(world: World) -> None:
    client = acting(world.hr1, world.employer)
    response = client.get(reverse("employment:employer-import-template"))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    headers = [c.value for c in sheet[1]]
    assert headers == ["毕业学校", "毕业届", "姓名", "身份证号或手机号", "拟聘职位"]


def test_an_imported_file_gives_each_rows_result(world: World) -> None:
    client = acting(world.hr1, world.employer)
    school = "江城理工大学"
    data = candidate_sheet(
        [
            [school, YEAR, "长江", world.users["长江"].phone, "软件工程师"],
            [school, f"{YEAR}届", "黄河", id_number(world.users["黄河"]), "软件工程师"],
            [school, YEAR, "汉水", "13999999999", "翻译"],  # wrong phone: not found
            [school, YEAR, "", world.users["汉水"].phone, ""],  # no name
            ["不存在大学", YEAR, "汉水", world.users["汉水"].phone, ""],
            [school, "明年", "汉水", world.users["汉水"].phone, ""],
        ]
    )
    page = html(upload(client, data))
    outcomes = re.findall(r'data-testid="import-row" data-outcome="(\w+)"', page)
    assert outcomes == ["added", "added", "not_found", "error", "error", "error"]
    assert "已加入 2 人，已在列表中 0 人，未找到 1 行，有误 3 行" in page
    assert "姓名：必填" in page and "平台上没有这所学校" in page and "四位年份" in page
    # a not-found row says nothing about why
    row = re.search(r'data-outcome="not_found">(.*?)</tr>', page, re.S)
    assert row is not None and "13999999999" not in row.group(1)
    names = sorted(c.student.name for c in Candidate.objects.filter(employer=world.employer))
    assert names == ["长江", "黄河"]
    # the same file again: already on the list
    again = html(upload(client, data))
    assert re.findall(r'data-outcome="(\w+)"', again)[:2] == ["already", "already"]


def test_imported_rows_count_against_the_search_limit(world: World) -> None:
    from unittest import mock

    client = acting(world.hr1, world.employer)
    rows: list[list[object]] = [
        ["江城理工大学", YEAR, name, world.users[name].phone, ""]
        for name in ("黄河", "长江", "汉水")
    ]
    with mock.patch.object(employer_actions, "SEARCHES_PER_DAY", 2):
        page = html(upload(client, candidate_sheet(rows)))
        assert re.findall(r'data-outcome="(\w+)"', page) == ["added", "added", "error"]
        assert "上限" in page
        assert NOT_FOUND not in html(search(client, world, "汉水", world.users["汉水"].phone))
        assert "上限" in html(search(client, world, "汉水", world.users["汉水"].phone))


def test_a_file_that_is_not_a_spreadsheet_is_refused_with_a_reason(world: World) -> None:
    client = acting(world.hr1, world.employer)
    file = io.BytesIO(b"not a spreadsheet")
    file.name = "x.xlsx"
    response = client.post(reverse("employment:employer-import"), {"file": file})
    assert response.status_code == 400 and "无法读取" in html(response)
    empty = Workbook()
    out = io.BytesIO()
    empty.save(out)
    response = client.post(
        reverse("employment:employer-import"), {"file": io.BytesIO(out.getvalue())}
    )
    assert response.status_code == 400


# --- 发送签约邀请: choosing the students and the 邀请函 -------------------------------------------


def test_students_with_different_positions_are_not_invited_together(world: World) -> None:
    client = acting(world.hr1, world.employer)
    huanghe, changjiang = world.students["黄河"], world.students["长江"]
    employer_actions.do_add_candidates(
        world.employer, [huanghe], position="软件工程师", actor=world.hr1
    )
    employer_actions.do_add_candidates(
        world.employer, [changjiang], position="翻译", actor=world.hr1
    )
    both = [str(huanghe.uuid), str(changjiang.uuid)]
    response = client.post(SEND, {"op": "invite", "student": both}, follow=True)
    assert "请勾选拟聘职位相同的学生" in html(response)
    assert response.redirect_chain[-1][0] == SEND
    # 邀约 one: the 邀请函 with the position and the profile's 档案/户口 defaults
    response = client.post(SEND, {"one": str(changjiang.uuid)})
    assert response["Location"] == reverse("employment:employer-letter")
    letter = html(client.get(response["Location"]))
    assert 'value="翻译"' in letter and 'value="星光集团人力资源部"' in letter
    assert 'value="武汉市东湖高新区"' in letter and 'value="5"' in letter
    assert "长江" in letter and "黄河" not in letter


def test_the_letter_keeps_what_was_typed_and_leads_to_the_confirmation(world: World) -> None:
    client = acting(world.hr1, world.employer)
    huanghe = world.students["黄河"]
    employer_actions.do_add_candidates(world.employer, [huanghe], position="", actor=world.hr1)
    client.post(SEND, {"one": str(huanghe.uuid)})
    url = reverse("employment:employer-letter")
    fields = {
        "position": "",
        "salary": "8000元/月",
        "archive_unit": "星光集团人力资源部",
        "feedback_days": "40",
    }
    response = client.post(url, fields)
    assert response.status_code == 400
    page = html(response)
    assert "8000元/月" in page and page.count('class="errorlist"') == 2
    response = client.post(url, {**fields, "position": "测试工程师", "feedback_days": "7"})
    assert response["Location"] == reverse("employment:employer-letter-confirm")
    confirm = html(client.get(response["Location"]))
    assert "测试工程师" in confirm and "8000元/月" in confirm and "7 天" in confirm
    assert 'data-testid="seal-option"' in confirm and "预览协议书" in confirm
    assert not Agreement.objects.exists()
    # a confirmation with no PIN sends nothing
    response = client.post(reverse("employment:employer-letter-confirm"), {"seal": ""})
    assert response.status_code == 400 and "请输入签署密码" in html(response)
    assert not Agreement.objects.exists()


def test_the_letter_without_chosen_students_goes_back_to_the_list(world: World) -> None:
    client = acting(world.hr1, world.employer)
    for name in ("employer-letter", "employer-letter-confirm", "employer-letter-preview"):
        response = client.get(reverse(f"employment:{name}"), follow=True)
        assert response.redirect_chain[-1][0] == SEND
        assert "请先在签约发送列表中勾选要邀约的学生" in html(response)


# --- 数据管理 ----------------------------------------------------------------------------------


def test_the_accepted_list_and_the_invitations_with_their_state(world: World) -> None:
    accepted = invited(world, "黄河")
    waiting = invited(world, "长江", Agreement.Status.INVITED)
    Agreement.objects.filter(pk=waiting.pk).update(deadline=timezone.now() - dt.timedelta(hours=1))
    client = acting(world.hr1, world.employer)
    page = html(client.get(reverse("employment:employer-accepted")))
    assert str(accepted.uuid) in page and str(waiting.uuid) not in page
    assert "等待签约鉴证" in page
    assert 'data-testid="agreement-download"' not in page  # not signed by the school yet
    sent = html(client.get(reverse("employment:employer-accepted") + "?tab=invitations"))
    assert str(waiting.uuid) in sent and "已过期" in sent  # past its 反馈期限
    passed_only = html(client.get(reverse("employment:employer-accepted") + "?status=passed"))
    assert str(accepted.uuid) not in passed_only
    detail = html(client.get(reverse("employment:employer-agreement", args=[accepted.uuid])))
    for section in ("学生信息", "单位信息", "签约信息", "档案信息", "户口信息", "签约过程记录"):
        assert section in detail
    assert "软件工程师" in detail and "星光集团人力资源部" in detail
    download = reverse("employment:employer-agreement-download", args=[accepted.uuid])
    assert client.get(download).status_code == 404
    # the home counts 签约待办 within the deadline only
    home = html(client.get(reverse("employment:employer-home")))
    assert re.search(r'data-testid="todo-invitations"><strong>0<', home)


# --- who may see what ----------------------------------------------------------------------------


def _urls(agreement: Agreement) -> list[str]:
    names = [
        "employer-home",
        "employer-profile",
        "employer-approval",
        "employer-send",
        "employer-import",
        "employer-import-template",
        "employer-letter",
        "employer-letter-confirm",
        "employer-letter-preview",
        "employer-letter-result",
        "employer-accepted",
        "employer-terminations",
        "employer-termination-apply",
    ]
    return [reverse(f"employment:{n}") for n in names] + [
        reverse("employment:employer-agreement", args=[agreement.uuid]),
        reverse("employment:employer-agreement-download", args=[agreement.uuid]),
    ]


def test_anonymous_visitors_go_to_the_login(world: World) -> None:
    agreement = invited(world, "黄河")
    termination = Termination.objects.create(
        agreement=agreement,
        student=agreement.student,
        side=Termination.Side.STUDENT,
        status=Termination.Status.APPLIED,
        reason="考研",
        applied_by=world.users["黄河"],
    )
    urls = [*_urls(agreement), reverse("employment:employer-termination", args=[termination.uuid])]
    for url in urls:
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login")), url


def test_outsiders_and_the_other_employer_get_404(world: World) -> None:
    agreement = invited(world, "黄河")
    termination = Termination.objects.create(
        agreement=agreement,
        student=agreement.student,
        side=Termination.Side.STUDENT,
        status=Termination.Status.APPLIED,
        reason="考研",
        applied_by=world.users["黄河"],
    )
    outsider = acting(make_signer("outsider", "13700000061", real_name="路人"), None)
    for url in _urls(agreement):
        assert outsider.get(url).status_code == 404, url
    other = acting(world.hr2, world.employer2)  # employer 2's admin, acting for employer 2
    for url in (
        reverse("employment:employer-agreement", args=[agreement.uuid]),
        reverse("employment:employer-agreement-download", args=[agreement.uuid]),
        reverse("employment:employer-termination", args=[termination.uuid]),
    ):
        assert other.get(url).status_code == 404, url
        assert other.post(url, {"op": "refuse", "reason": "x"}).status_code in (404, 405), url
    assert str(agreement.uuid) not in html(other.get(reverse("employment:employer-accepted")))
    # the student of the agreement is not its employer either
    student = acting(world.users["黄河"], None)
    url = reverse("employment:employer-agreement", args=[agreement.uuid])
    assert student.get(url).status_code == 404
    assert Termination.objects.get(pk=termination.pk).status == Termination.Status.APPLIED


def test_a_member_who_is_not_an_administrator_is_refused(world: World) -> None:
    clerk = make_signer("clerk", "13700000062", real_name="孙文员")
    Membership.objects.create(org=world.employer, user=clerk, role=Membership.Role.MEMBER)
    client = acting(clerk, world.employer)
    for name in ("employer-home", "employer-send", "employer-terminations"):
        response = client.get(reverse(f"employment:{name}"))
        assert response.status_code == 403
        assert "只有单位管理员可以办理签约" in html(response)
    response = search(client, world, "黄河", world.users["黄河"].phone)
    assert response.status_code == 403 and "黄河" not in html(response).split("employer-refused")[1]
    agreement = invited(world, "黄河")
    assert (
        client.get(reverse("employment:employer-agreement", args=[agreement.uuid])).status_code
        == 404
    )


def test_a_roster_student_is_never_shown_to_an_unapproved_employer(world: World) -> None:
    boss = make_signer("boss", "13700000063", real_name="周老板")
    org = make_verified_org(boss, name="未审核公司")
    EmployerProfile.objects.create(org=org, archive={"unit": "x"}, confirmed_by=boss)
    client = acting(boss, org)
    response = search(client, world, "黄河", world.users["黄河"].phone)
    assert response.status_code == 302
    assert response["Location"] == reverse("employment:employer-home")
    assert RosterEntry.objects.filter(name="黄河").exists()


def test_the_employer_pages_speak_english(world: World) -> None:
    from tests.core.test_i18n import visible_cjk

    client = acting(world.hr1, world.employer)
    client.post(reverse("accounts:set-language"), {"language": "en", "next": "/"})
    data = {"星光集团", "国有企业", "制造业", "湖北省武汉市", "江城理工大学", "汉江师范学院"}
    data |= {"黄河", "软件工程师"}
    # the models' status labels are the shared catalogue's (models.py), not these pages'
    data |= {str(label) for _value, label in Agreement.Status.choices}
    agreement = invited(world, "黄河")
    urls = [
        reverse("employment:employer-home"),
        reverse("employment:employer-profile"),
        reverse("employment:employer-approval"),
        SEND,
        reverse("employment:employer-import"),
        reverse("employment:employer-accepted"),
        reverse("employment:employer-accepted") + "?tab=invitations",
        reverse("employment:employer-terminations"),
        reverse("employment:employer-terminations") + "?tab=signed",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert visible_cjk(html(response)) - data == set(), url
    detail = html(client.get(reverse("employment:employer-agreement", args=[agreement.uuid])))
    assert "Signing history" in detail and "Employment terms" in detail
