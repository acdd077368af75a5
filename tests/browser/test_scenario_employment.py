"""Seed 003 in the browser: tripartite employment agreements (三方协议) from the roster to the
paper agreement, one party per browser context (students at phone size, the school and the
employer at their desks).

1. The operator marks 江城理工大学 as a school in the 运营后台; its 学校管理员 导入学生名单: the
   template downloaded, 20 students filled in with openpyxl, the check page (20 rows, no
   problem), 确认导入.
2. 星光集团 confirms its 签约信息 (leaving 单位所在地 empty), 申请学校审核; the school approves it
   (单位审核). 签约搜索 with one item wrong finds nobody and says nothing about the student; the
   four exact items find A, 加入; B, C and D come from the 导入拟签约名单 spreadsheet (by
   phone); all four ticked, one 邀请函, 确认发送 with the contract seal and PIN. 楚天科技
   (approved through actions) invites A and D.
3. A (信息验证 first) 查看邀请函 → 同意 → 现在签约 → saved signature and PIN; 楚天科技's
   invitation to A is view-only. B 拒绝. C's deadline passes (moved into the past, the timers
   run): 已过期. D accepts 楚天科技's invitation.
4. The school, in 签约管理, completes 单位所在地 and passes A (鉴证 seal and PIN), and fails D
   with a reason. The agreement downloaded by 星光集团 (数据管理 → 已应约) carries the employer's
   seal, A's signature and the school's seal — valid, trusted, B-LTA in our verifier, pyHanko
   and pdfsig.
5. 星光集团 applies to terminate (解约中心 → 已签约成功学生列表 → 申请解约 → 解约须知 → reason →
   seal and PIN); A agrees (查看解约 → 同意解约 → PIN); the school passes the 解约鉴证; the 解约函
   A downloads is signed by the three (checked like the agreement). A signs again with 楚天科技
   (actions); A's second termination is refused: 解约机会仅有一次.
6. E enters a paper agreement (录入协议书, 暂存, 预览协议书, 保存并生成协议书 with its two
   confirmations); the school passes the 协议书审核; E uploads the stamped scan (反馈协议书);
   the school passes the 签约鉴证.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pikepdf
import pytest

from qianshu.employment.models import Agreement, EmploymentRecord, RosterEntry, School, Termination
from qianshu.pki.actions import do_init_pki
from tests.browser import employment_students as st
from tests.browser import employment_world as ew
from tests.browser import scenario
from tests.browser.employment_world import (
    CANDIDATE_HEADER,
    EMPLOYER,
    POSITION,
    ROSTER_HEADER,
    SCHOOL,
    YEAR,
    World,
)
from tests.browser.flows import login_by_sms
from tests.support.personas import PIN

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _pki() -> None:
    do_init_pki(name="测试平台")


def _desk(new_context: Any, errors: list[str]) -> Any:
    page = new_context("desktop").new_page()
    errors.extend(scenario.watch(page))
    return page


def _phone(new_context: Any, errors: list[str]) -> Any:
    page = new_context("phone").new_page()
    errors.extend(scenario.watch(page))
    return page


# --- 1. the school and its roster -----------------------------------------------------------------


def _operator_marks_school(page: Any, w: World, shots: scenario.Shots) -> None:
    """运营后台 → the organisation → 标记为学校 (学生信息验证方式: 姓名 + 身份证号)."""
    login_by_sms(page, w.operator.phone)
    page.goto(f"/backoffice/orgs/{w.school_org.uuid}/")
    form = page.get_by_test_id("mark-school-form")
    form.wait_for()
    shots(page, "operator-org")
    form.get_by_test_id("mark-school-submit").click()
    page.get_by_test_id("mark-school-done").wait_for()
    shots(page, "operator-marked")
    school = School.objects.get(org=w.school_org)
    assert school.check_mode == School.CheckMode.ID_NUMBER
    assert school.staff.filter(user=w.school_admin, role="school_admin").exists()


def _school_imports_roster(page: Any, w: World, tmp_path: Path, shots: scenario.Shots) -> None:
    """学生名单 → 导入学生名单: the year, 下载 Excel 模板, the filled file, the check page
    (共 20 名学生，检查无误), 确认导入."""
    login_by_sms(page, w.school_admin.phone)
    scenario.act_for(page, w.school_org)
    page.goto("/employment/")
    page.get_by_test_id("school-menu").wait_for()
    page.get_by_test_id("school-menu-roster").click()
    page.get_by_test_id("roster-import").wait_for()
    page.get_by_test_id("roster-import-year").select_option(str(YEAR))
    name, blank = scenario.download(page, "roster-template")
    assert name == f"{YEAR}届学生名单.xlsx"
    sheet = tmp_path / "学生名单.xlsx"
    sheet.write_bytes(ew.filled(blank, ROSTER_HEADER, ew.roster_rows(w)))
    page.get_by_test_id("roster-import-file").set_input_files(str(sheet))
    shots(page, "school-roster-upload")
    page.get_by_test_id("roster-import-submit").click()
    ok = page.get_by_test_id("roster-check-ok")
    ok.wait_for()
    assert f"共 {ew.ROSTER_SIZE} 名学生，检查无误" in ok.inner_text()
    assert not page.get_by_test_id("roster-problem").count()
    shots(page, "school-roster-check")
    page.get_by_test_id("roster-confirm").click()
    page.get_by_test_id("roster-row").first.wait_for()
    assert RosterEntry.objects.filter(school__org=w.school_org, year=YEAR).count() == 20
    shots(page, "school-roster")


# --- 2. the employer: first use, approval, search, import, 邀请函 ---------------------------------


def _employer_first_use(page: Any, w: World, shots: scenario.Shots) -> None:
    """确认签约信息 (单位所在地 left for the school), then 申请学校审核."""
    login_by_sms(page, w.hr1.phone)
    scenario.act_for(page, w.employer)
    page.goto("/employment/employer/")
    page.get_by_test_id("first-use").wait_for()
    values = {
        "basic_nature": "国有企业",
        "basic_industry": "制造业",
        "basic_address": "武汉市光谷大道 1 号",
        "basic_contact": "王人事",
        "basic_phone": w.hr1.phone,
        "archive_unit": "星光集团人力资源部",
        "archive_address": "武汉市光谷大道 1 号",
        "hukou_address": "武汉市东湖高新区",
    }
    for key, value in values.items():
        page.locator(f"#id_{key}").fill(value)
    shots(page, "employer-profile")
    page.get_by_test_id("profile-submit").click()
    page.get_by_test_id("approval-form").wait_for()  # not approved yet: 申请学校审核
    assert page.get_by_test_id("not-approved").is_visible()
    page.locator("#id_school").select_option(label=SCHOOL)
    page.get_by_test_id("approval-submit").click()
    st.message(page, "已提交审核申请")
    assert "待审核" in page.get_by_test_id("approval-row").inner_text()
    shots(page, "employer-approval")


def _school_approves(page: Any, w: World, shots: scenario.Shots) -> None:
    """单位审核 → 审核通过."""
    page.get_by_test_id("school-menu-employers").click()
    row = page.get_by_test_id("employer-row").filter(has_text=EMPLOYER)
    row.wait_for()
    shots(page, "school-employers")
    row.get_by_test_id("employer-approve").click()
    page.get_by_test_id("employer-approve").wait_for(state="detached")
    assert w.employer.school_approvals.get().status == "approved"


def _search(page: Any, name: str, id_or_phone: str) -> None:
    page.locator("#id_school").select_option(label=SCHOOL)
    page.locator("#id_year").fill(str(YEAR))
    page.locator("#id_name").fill(name)
    page.locator("#id_id_or_phone").fill(id_or_phone)
    page.get_by_test_id("search-submit").click()


def _employer_finds_a(page: Any, w: World, shots: scenario.Shots) -> None:
    """签约搜索: one item wrong finds nobody (and shows nothing of the student); the four exact
    items find A, 加入 with the 拟聘职位."""
    page.goto("/employment/employer/")
    assert SCHOOL in page.get_by_test_id("employer-info").inner_text()
    page.get_by_test_id("menu-send").click()
    page.get_by_test_id("search-form").wait_for()
    a = w.entry("A")
    id_number = w.students["A"].person_identity.id_number()
    _search(page, "黄海", id_number)  # the name one character off
    none = page.get_by_test_id("search-none")
    none.wait_for()
    assert "未找到符合条件的学生" in none.inner_text()
    assert not page.get_by_test_id("search-found").count()
    body = page.locator("body").inner_text()
    for leak in (a.student_no, a.name, a.college.name, a.major, a.id_number_masked):
        assert leak not in body, leak
    shots(page, "employer-search-none")
    _search(page, a.name, id_number)
    found = page.get_by_test_id("search-found")
    found.wait_for()
    assert page.get_by_test_id("found-name").inner_text() == a.name
    page.get_by_test_id("found-position").fill(POSITION)
    shots(page, "employer-search-found")
    page.get_by_test_id("found-add").click()
    st.message(page, "已加入签约发送列表")
    assert page.get_by_test_id("candidate-row").count() == 1


def _employer_imports(page: Any, w: World, tmp_path: Path, shots: scenario.Shots) -> None:
    """导入拟签约名单: B, C and D by 毕业学校, 毕业届, 姓名 and 手机号."""
    page.get_by_test_id("tab-import").click()
    name, blank = scenario.download(page, "import-template")
    assert name == "拟签约名单模板.xlsx"
    rows = [[SCHOOL, str(YEAR), w.name(c), w.entry(c).phone, POSITION] for c in "BCD"]
    sheet = tmp_path / "拟签约名单.xlsx"
    sheet.write_bytes(ew.filled(blank, CANDIDATE_HEADER, rows))
    page.locator("#import-file").set_input_files(str(sheet))
    page.get_by_test_id("import-submit").click()
    summary = page.get_by_test_id("import-summary")
    summary.wait_for()
    assert "已加入 3 人，已在列表中 0 人，未找到 0 行，有误 0 行。" in summary.inner_text()
    shots(page, "employer-import")
    page.get_by_text("查看签约发送列表").click()
    page.get_by_test_id("candidate-list").wait_for()
    assert page.get_by_test_id("candidate-row").count() == 4


def _employer_invites(page: Any, w: World, shots: scenario.Shots) -> dict[str, Agreement]:
    """Tick the four → 发送签约邀请 → 邀请函 → 发送 → 确认发送 (seal, PIN); by letter."""
    for check in page.get_by_test_id("candidate-check").all():
        check.check()
    shots(page, "employer-candidates")
    page.get_by_test_id("candidates-invite").click()
    page.get_by_test_id("letter-form").wait_for()
    listed = page.get_by_test_id("letter-students").inner_text()
    assert all(w.name(c) in listed for c in "ABCD"), listed
    assert page.locator("#id_position").input_value() == POSITION
    assert page.locator("#id_archive_unit").input_value() == "星光集团人力资源部"
    assert page.locator("#id_feedback_days").input_value() == "5"
    for key, value in {
        "contract_term": "3年",
        "salary": "8000元/月",
        "work_place": "湖北省武汉市",
        "probation": "3个月",
        "other_terms": "五险一金，年终奖另计。",
    }.items():
        page.locator(f"#id_{key}").fill(value)
    shots(page, "employer-letter")
    page.get_by_test_id("letter-submit").click()
    page.get_by_test_id("confirm-form").wait_for()
    preview = page.request.get(page.get_by_test_id("confirm-preview").get_attribute("href"))
    assert preview.ok and preview.body().startswith(b"%PDF")
    assert page.get_by_test_id("seal-option").first.is_checked()
    page.get_by_test_id("pin").fill(PIN)
    shots(page, "employer-confirm")
    page.get_by_test_id("confirm-submit").click(timeout=st.SIGNING)
    summary = page.get_by_test_id("sent-summary")
    summary.wait_for(timeout=st.SIGNING)
    assert "已发送 4 份签约邀请，0 份未发送。" in summary.inner_text()
    shots(page, "employer-sent")
    sent = Agreement.objects.filter(employer=w.employer).select_related("student")
    by_name = {a.student.name: a for a in sent}
    return {c: by_name[w.name(c)] for c in "ABCD"}


# --- 4. 签约鉴证 ---------------------------------------------------------------------------------


def _school_opens(page: Any, agreement: Agreement, list_url: str, test_id: str) -> None:
    """签约管理 (or 解约管理): the row of the agreement → its detail."""
    page.goto(list_url)
    row = page.locator(f'[data-testid="{test_id}"][data-number="{agreement.number}"]')
    row.get_by_test_id(test_id.replace("-row", "-open")).click()
    page.get_by_test_id("section-student").wait_for()


def _wait_status(page: Any, agreement: Agreement, status: str) -> None:
    """Back on 签约管理 (reloaded), the agreement's 鉴证状态."""
    page.goto("/employment/school/agreements/")
    row = page.locator(f'[data-testid="agreement-row"][data-number="{agreement.number}"]')
    badge = row.get_by_test_id("agreement-status")
    assert badge.inner_text() == status, badge.inner_text()


def _school_counts(page: Any, test_id: str, count: int, shots: scenario.Shots, name: str) -> None:
    """就业管理 (the school's home): one of its 待办 counts."""
    page.goto("/employment/school/")
    number = page.get_by_test_id(test_id).locator(".emp-count-n")
    assert number.inner_text() == str(count), (test_id, number.inner_text())
    shots(page, name)


def _school_passes_a(page: Any, a: Agreement, shots: scenario.Shots) -> None:
    """就业管理 counts A and D 等待签约鉴证; A's detail: 单位所在地 completed, the 鉴证 seal and
    PIN, 签约鉴证通过."""
    _school_counts(page, "count-waiting", 2, shots, "school-home")
    _school_opens(page, a, "/employment/school/agreements/", "agreement-row")
    assert "黄河" in page.get_by_test_id("section-student").inner_text()
    assert POSITION in page.get_by_test_id("section-terms").inner_text()
    page.get_by_test_id("employer-location").fill("湖北省武汉市东湖高新区")
    page.get_by_test_id("pass-form").get_by_test_id("pin").fill(PIN)
    shots(page, "school-pass")
    page.get_by_test_id("pass-submit").click(timeout=st.SIGNING)
    page.get_by_test_id("agreements").wait_for(timeout=st.SIGNING)  # back to the list
    _wait_status(page, a, "签约鉴证通过")
    shots(page, "school-passed")
    a.refresh_from_db()
    assert a.employer_info["location"] == "湖北省武汉市东湖高新区"
    assert EmploymentRecord.objects.get(agreement=a).employer_name == EMPLOYER


def _school_fails_d(page: Any, d: Agreement, shots: scenario.Shots) -> None:
    _school_opens(page, d, "/employment/school/agreements/", "agreement-row")
    page.get_by_test_id("fail-open").click()
    dialog = page.get_by_test_id("fail-dialog")
    dialog.wait_for()
    dialog.get_by_test_id("fail-reason").fill("协议书约定的工作地点与单位信息不符。")
    shots(page, "school-fail", screen=True)
    dialog.get_by_test_id("fail-submit").click(timeout=st.SIGNING)
    page.get_by_test_id("agreements").wait_for()
    _wait_status(page, d, "签约鉴证不通过")
    d.refresh_from_db()
    assert d.reason == "协议书约定的工作地点与单位信息不符。"


def _employer_downloads(page: Any, a: Agreement, tmp_path: Path, shots: scenario.Shots) -> None:
    """数据管理 → 已应约 → 下载协议书: three parties, B-LTA everywhere."""
    assert a.envelope is not None
    st.completed(a.envelope)
    page.get_by_test_id("menu-accepted").click()
    row = page.locator(f'[data-testid="agreement-row"][data-agreement="{a.uuid}"]')
    assert row.get_by_test_id("agreement-status").inner_text() == "签约鉴证通过"
    shots(page, "employer-accepted")
    with page.expect_download() as info:
        row.get_by_test_id("agreement-download").click()
    data = Path(info.value.path()).read_bytes()
    assert info.value.suggested_filename == f"就业协议书-{a.number}.pdf"
    report = scenario.check_final_pdf(data, tmp_path)
    st.check_signers(report, "黄河", EMPLOYER)
    text = scenario.pdf_text(data, tmp_path)
    for value in ("黄河", EMPLOYER, SCHOOL, POSITION):
        assert value in text, value
    with pikepdf.open(io.BytesIO(data)) as pdf:
        last = len(pdf.pages) - 1
    shots.pdf_page(data, last, "agreement-signed")  # the three parties' blocks


# --- 5. 解约 --------------------------------------------------------------------------------------


def _employer_applies(page: Any, shots: scenario.Shots) -> None:
    """解约中心 → 已签约成功学生列表 → tick A → 申请解约 → 解约须知, reason, seal, PIN."""
    page.get_by_test_id("menu-terminations").click()
    page.get_by_test_id("tab-signed").click()
    row = page.get_by_test_id("signed-row").filter(has_text="黄河")
    row.get_by_test_id("signed-check").check()
    shots(page, "employer-signed-list")
    page.get_by_test_id("signed-apply").click()
    form = page.get_by_test_id("apply-form")
    form.wait_for()
    assert "解约机会仅有一次" in page.get_by_test_id("termination-notice").inner_text()
    page.locator("#id_notice").check()
    page.locator("#id_reason").fill("岗位调整，经双方协商解除协议。")
    form.get_by_test_id("pin").fill(PIN)
    shots(page, "employer-apply")
    page.get_by_test_id("apply-submit").click(timeout=st.SIGNING)
    result = page.get_by_test_id("apply-result")
    result.wait_for(timeout=st.SIGNING)
    assert result.get_attribute("data-ok") == "1", result.inner_text()
    shots(page, "employer-applied")


def _school_passes_termination(page: Any, a: Agreement, shots: scenario.Shots) -> Termination:
    _school_counts(page, "count-terminations", 1, shots, "school-home-termination")
    _school_opens(page, a, "/employment/school/terminations/", "termination-row")
    decide = page.get_by_test_id("decide-termination")
    assert "岗位调整" in decide.get_by_test_id("termination-reason").inner_text()
    decide.get_by_test_id("pin").fill(PIN)
    shots(page, "school-termination")
    decide.get_by_test_id("termination_pass-submit").click(timeout=st.SIGNING)
    page.get_by_test_id("terminations").wait_for(timeout=st.SIGNING)
    termination = Termination.objects.get(agreement=a)
    assert termination.status == Termination.Status.PASSED
    row = page.locator(f'[data-testid="termination-row"][data-number="{a.number}"]')
    assert row.get_by_test_id("termination-status").inner_text() == "解约鉴证通过"
    shots(page, "school-termination-passed")
    return termination


# --- 6. 线下签约 ----------------------------------------------------------------------------------


def _school_reviews_paper(page: Any, e: Agreement, op: str, shots: scenario.Shots) -> None:
    """协议书审核通过 (``review_pass``) or the paper's 签约鉴证通过 (``paper_pass``)."""
    _school_opens(page, e, "/employment/school/agreements/", "agreement-row")
    if op == "paper_pass":
        page.get_by_test_id("feedback-file").first.wait_for()
    shots(page, f"school-{op}")
    page.get_by_test_id(f"{op}-submit").click()
    page.get_by_test_id("agreements").wait_for()


def _paper_agreement(
    school: Any, student: Any, w: World, tmp_path: Path, shots: scenario.Shots
) -> None:
    st.e_enters_paper(student, w, shots)
    e = Agreement.objects.get(student=w.entry("E"), mode=Agreement.Mode.OFFLINE)
    _school_reviews_paper(school, e, "review_pass", shots)
    _wait_status(school, e, "待反馈")
    st.e_uploads_scan(student, tmp_path, shots)
    _school_reviews_paper(school, e, "paper_pass", shots)
    _wait_status(school, e, "签约鉴证通过")
    student.goto("/employment/student/paper/")
    assert student.get_by_test_id("paper-status").inner_text() == "签约鉴证通过"
    shots(student, "student-E-paper-passed")
    assert EmploymentRecord.objects.get(agreement=e).employer_name == st.PAPER["employer-name"]


# --- the scenario ---------------------------------------------------------------------------------


def test_employment_agreements_from_roster_to_paper(
    new_context: Any, shots: scenario.Shots, tmp_path: Path
) -> None:
    w = ew.make_world()
    errors: list[str] = []
    operator = _desk(new_context, errors)
    _operator_marks_school(operator, w, shots)
    operator.context.close()
    school = _desk(new_context, errors)
    _school_imports_roster(school, w, tmp_path, shots)

    employer = _desk(new_context, errors)
    _employer_first_use(employer, w, shots)
    _school_approves(school, w, shots)
    ew.approve_employer2(w)
    _employer_finds_a(employer, w, shots)
    _employer_imports(employer, w, tmp_path, shots)
    invited = _employer_invites(employer, w, shots)
    a2, d2 = scenario.off_loop(ew.invite_from_employer2, w, ["A", "D"])

    a_page = _phone(new_context, errors)
    st.a_accepts(a_page, w, shots)
    for step in (st.b_refuses, st.d_accepts_another):
        page = _phone(new_context, errors)
        step(page, w, shots)
        page.context.close()
    page = _phone(new_context, errors)
    st.c_lets_it_expire(page, w, invited["C"], shots)
    page.context.close()

    _school_passes_a(school, invited["A"], shots)
    _school_fails_d(school, d2, shots)
    invited["A"].refresh_from_db()
    _employer_downloads(employer, invited["A"], tmp_path, shots)

    _employer_applies(employer, shots)
    st.a_agrees(a_page, shots)
    termination = _school_passes_termination(school, invited["A"], shots)
    st.letter_is_signed(a_page, termination, tmp_path, shots)
    st.second_termination_refused(a_page, w, a2, shots)

    e_page = _phone(new_context, errors)
    _paper_agreement(school, e_page, w, tmp_path, shots)

    statuses = dict(
        RosterEntry.objects.filter(school__org=w.school_org, year=YEAR).values_list(
            "name", "status"
        )
    )
    assert statuses["黄河"] == RosterEntry.Status.SIGNED  # signed again with 楚天科技
    assert statuses["淮河"] == RosterEntry.Status.SIGNED
    assert statuses["珠江"] == RosterEntry.Status.UNSIGNED  # 鉴证不通过 freed D
    assert errors == []
