"""The school's pages (就业管理): every page for a 学校管理员, a 学院管理员's view of its own
college only, the roster import through its check page, 单位审核, and every 鉴证 decision
through the agreement's page — with the outcomes in the database (agreement, envelope,
就业信息), and 404 for everybody who is not the student's school."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from django.urls import reverse

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.employment.actions import employers as employer_actions
from qianshu.employment.actions import paper
from qianshu.employment.actions import terminations as termination_actions
from qianshu.employment.models import (
    Agreement,
    EmployerApproval,
    EmploymentRecord,
    RosterEntry,
    Staff,
    Termination,
)
from qianshu.envelopes.models import AuditEvent, Envelope
from qianshu.orgs.context import SESSION_KEY
from qianshu.orgs.models import Membership, Organization
from qianshu.storage import encryption
from qianshu.storage.actions import do_store_blob
from qianshu.storage.blobs import get_blob_store
from qianshu.storage.models import Blob
from tests.employment.test_agreements import accept, invite, pass_it
from tests.employment.test_terminations import employer_applies, student_agrees
from tests.employment.world import YEAR, World, roster_sheet, student_row
from tests.support.personas import PIN, make_signer, make_verified_org

pytestmark = pytest.mark.django_db

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def client_for(user: User, org: Organization | None = None) -> Client:
    """``user`` logged in, acting for ``org`` (切换身份) when given."""
    client = Client()
    client.force_login(user)
    if org is not None:
        session = client.session
        session[SESSION_KEY] = str(org.uuid)
        session.save()
    return client


@pytest.fixture
def admin(world: World) -> Client:
    return client_for(world.school_admin, world.school.org)


@pytest.fixture
def college(world: World) -> Client:
    return client_for(world.college_admin, world.school.org)


@pytest.fixture
def on_commit() -> Iterator[None]:
    with TestCase.captureOnCommitCallbacks(execute=True):
        yield


def text(response: Any) -> str:
    return response.content.decode()


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def accepted(world: World, name: str = "黄河") -> Agreement:
    return accept(world, invite(world, name), name)


def paper_agreement(world: World, name: str = "黄河") -> Agreement:
    agreement = paper.do_save_paper_draft(
        world.students[name],
        terms={"position": "中学教师", "work_place": "宜昌"},
        employer={"name": "宜昌市第一中学", "credit_code": "12420500MB1234567X"},
        archive={"unit": "宜昌市教育局"},
        hukou={},
        actor=world.users[name],
    )
    return paper.do_submit_paper(agreement, actor=world.users[name])


def school_pages() -> list[str]:
    return [
        "/employment/school/",
        "/employment/school/roster/",
        "/employment/school/staff/",
        "/employment/school/employers/",
        "/employment/school/agreements/",
        "/employment/school/terminations/",
    ]


# --- every page, and who sees what --------------------------------------------------------


def test_every_page_renders_for_the_school_admin(world: World, admin: Client) -> None:
    agreement = accepted(world)
    for url in school_pages():
        response = admin.get(url)
        assert response.status_code == 200, url
        assert "江城理工大学" in text(response)
    for tab in ("pending", "approved", "refused"):
        assert admin.get(f"/employment/school/employers/?tab={tab}").status_code == 200
    detail = admin.get(f"/employment/agreements/{agreement.uuid}/school/")
    assert detail.status_code == 200
    page = text(detail)
    for section in ("学生信息", "单位信息", "签约信息", "档案信息", "户口信息", "签约过程记录"):
        assert section in page
    assert "签约鉴证通过" in page and "签约鉴证不通过" in page
    # the link from a notification opens the school's page
    link = admin.get(f"/employment/agreements/{agreement.uuid}/")
    assert link.status_code == 302
    assert link["Location"] == f"/employment/agreements/{agreement.uuid}/school/"


def test_the_home_page_counts_what_waits_for_the_school(world: World, admin: Client) -> None:
    accepted(world)
    paper_agreement(world, "汉水")
    newcomer = make_verified_org(world.users["长江"], name="新单位")
    employer_actions.do_request_approval(world.school, newcomer, actor=world.users["长江"])
    counts = admin.get("/employment/school/").context["counts"]
    assert (counts.waiting, counts.paper_review, counts.employers, counts.terminations) == (
        1,
        1,
        1,
        0,
    )


def test_acting_personally_or_for_another_organisation_is_not_the_school(world: World) -> None:
    personal = client_for(world.school_admin)
    response = personal.get("/employment/school/")
    assert response.status_code == 200
    assert "切换身份" in text(response) and "江城理工大学" in text(response)
    for url in school_pages()[1:]:
        assert personal.get(url).status_code == 404, url
    # an employer's administrator acting for the employer: no school at all
    hr = client_for(world.hr1, world.employer)
    assert "不是学校的就业管理人员" in text(hr.get("/employment/school/"))
    for url in school_pages()[1:]:
        assert hr.get(url).status_code == 404, url


def test_the_employment_home_sends_school_staff_to_their_centre(admin: Client) -> None:
    response = admin.get("/employment/")
    assert response.status_code == 302 and response["Location"] == "/employment/school/"


def _agreement_urls(agreement: Agreement) -> list[str]:
    base = f"/employment/agreements/{agreement.uuid}/school"
    return [f"{base}/", f"{base}/agreement.pdf"]


def all_urls(world: World, agreement: Agreement) -> list[tuple[str, str]]:
    return [
        *[("get", url) for url in school_pages()],
        ("get", "/employment/school/roster/template.xlsx"),
        ("post", "/employment/school/roster/import/"),
        ("get", "/employment/school/roster/import/check/"),
        ("post", f"/employment/school/employers/{world.employer.uuid}/decide/"),
        *[("get", url) for url in _agreement_urls(agreement)],
        ("post", f"/employment/agreements/{agreement.uuid}/school/"),
        ("get", f"/employment/agreements/{agreement.uuid}/school/feedback/{'0' * 64}/"),
        ("get", f"/employment/terminations/{agreement.uuid}/school/proof/"),
        ("get", f"/employment/terminations/{agreement.uuid}/school/letter.pdf"),
    ]


def test_anonymous_visitors_are_sent_to_log_in(world: World) -> None:
    agreement = accepted(world)
    anonymous = Client()
    for method, url in all_urls(world, agreement):
        response = getattr(anonymous, method)(url)
        assert response.status_code == 302, url
        assert "/login/" in response["Location"], url


@pytest.mark.parametrize("who", ["school_b_admin", "hr1", "student", "outsider"])
def test_nobody_but_the_school_reaches_its_agreement(world: World, who: str) -> None:
    agreement = accepted(world)
    outsider = make_signer("outsider", "13700000099", real_name="路人")
    user, org = {
        "school_b_admin": (world.school_b_admin, world.school_b.org),
        "hr1": (world.hr1, world.employer),  # the employer of this very agreement
        "student": (world.users["黄河"], None),  # its student
        "outsider": (outsider, None),
    }[who]
    client = client_for(user, org)
    for url in _agreement_urls(agreement):
        assert client.get(url).status_code == 404, url
    response = client.post(
        f"/employment/agreements/{agreement.uuid}/school/", {"op": "fail", "reason": "x"}
    )
    assert response.status_code == 404
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACCEPTED
    if who != "school_b_admin":
        for url in school_pages()[1:]:
            assert client.get(url).status_code == 404, url


def test_school_b_sees_none_of_school_as_students(world: World) -> None:
    accepted(world)
    client = client_for(world.school_b_admin, world.school_b.org)
    assert "黄河" not in text(client.get("/employment/school/roster/?year=2026"))
    assert "黄河" not in text(client.get("/employment/school/agreements/"))
    assert (
        client.post(
            f"/employment/school/employers/{world.employer.uuid}/decide/", {"decision": "approve"}
        ).status_code
        == 404
    )  # employer 1 asked school A, not B


def test_a_college_admin_sees_only_its_college(world: World, college: Client) -> None:
    ours, theirs = accepted(world, "长江"), accepted(world, "汉水")  # 计算机学院 / 外国语学院
    roster = text(college.get(f"/employment/school/roster/?year={YEAR}"))
    assert "黄河" in roster and "长江" in roster and "汉水" not in roster
    listed = text(college.get("/employment/school/agreements/"))
    assert ours.number in listed and theirs.number not in listed
    assert college.get("/employment/school/").context["counts"].waiting == 1
    assert college.get(f"/employment/agreements/{ours.uuid}/school/").status_code == 200
    for url in _agreement_urls(theirs):
        assert college.get(url).status_code == 404, url
    # the school's business is the 学校管理员's
    assert college.get("/employment/school/staff/").status_code == 404
    assert college.get("/employment/school/roster/template.xlsx").status_code == 404
    assert college.post("/employment/school/roster/import/").status_code == 404
    # another college in the filter is no filter
    other = world.students["汉水"].college_id
    assert "汉水" not in text(college.get(f"/employment/school/roster/?college={other}"))


def test_the_roster_filters_and_shows_masked_id_numbers_only(world: World, admin: Client) -> None:
    accepted(world, "长江")
    page = admin.get(f"/employment/school/roster/?year={YEAR}")
    assert [s.name for s in page.context["page_obj"]] == ["黄河", "长江", "汉水"]
    content = text(page)
    for user in world.users.values():
        number = user.person_identity.id_number()
        assert number not in content and number[:4] + "*" in content
    signing = admin.get(f"/employment/school/roster/?year={YEAR}&status=signing")
    assert [s.name for s in signing.context["page_obj"]] == ["长江"]
    by_no = admin.get(f"/employment/school/roster/?year={YEAR}&q=20260003")
    assert [s.name for s in by_no.context["page_obj"]] == ["汉水"]
    assert not admin.get(f"/employment/school/roster/?year={YEAR - 1}").context["page_obj"]


# --- 导入学生名单 -------------------------------------------------------------------------------


def upload(client: Client, data: bytes, year: int = YEAR) -> Any:
    return client.post(
        "/employment/school/roster/import/",
        {"year": str(year), "file": SimpleUploadedFile("名单.xlsx", data, XLSX)},
    )


def test_the_template_downloads(admin: Client) -> None:
    response = admin.get(f"/employment/school/roster/template.xlsx?year={YEAR}")
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    assert response.content.startswith(b"PK")


def test_the_check_page_lists_the_problems_and_imports_nothing(world: World, admin: Client) -> None:
    newcomer = make_signer("newcomer", "13700000011", real_name="新同学")
    good = student_row(newcomer, "20260011")
    rows = [good, {**good, "student_no": "20260012"}, {**good, "student_no": "", "phone": "1"}]
    before = RosterEntry.objects.count()
    response = upload(admin, roster_sheet(rows))
    assert response.status_code == 302
    assert response["Location"] == "/employment/school/roster/import/check/"
    staged = Blob.objects.get(encryption_purpose=encryption.EMPLOYMENT_ROSTER)
    assert get_blob_store().get(staged.sha256).startswith(encryption.MAGIC)  # kept encrypted
    check = admin.get("/employment/school/roster/import/check/")
    assert check.status_code == 200
    problems = {r.number: r.problems for r in check.context["problems"]}
    assert set(problems) == {3, 4}
    assert any("与第 2 行重复" in p for p in problems[3])
    assert any(p.startswith("学号：必填") for p in problems[4])
    assert any(p.startswith("手机号") for p in problems[4])
    page = text(check)
    assert "第 3 行" in page and "第 4 行" in page and 'data-testid="roster-confirm"' not in page
    # 确认导入 anyway (a crafted POST): refused, nothing imported, the file kept to look again
    refused = admin.post("/employment/school/roster/import/check/", {"op": "import"}, follow=True)
    assert any("未导入任何学生" in m for m in messages_of(refused))
    assert RosterEntry.objects.count() == before
    assert Blob.objects.filter(encryption_purpose=encryption.EMPLOYMENT_ROSTER).count() == 1
    # 取消: the kept file is deleted
    admin.post("/employment/school/roster/import/check/", {"op": "cancel"})
    assert not Blob.objects.filter(encryption_purpose=encryption.EMPLOYMENT_ROSTER).exists()
    assert admin.get("/employment/school/roster/import/check/").status_code == 404


def test_a_good_file_is_imported_after_the_check(world: World, admin: Client) -> None:
    people = [make_signer(f"new{i}", f"1370000005{i}", real_name=f"新生{i}") for i in range(3)]
    rows = [student_row(p, f"2026010{i}", "数学学院") for i, p in enumerate(people)]
    upload(admin, roster_sheet(rows))
    check = admin.get("/employment/school/roster/import/check/")
    assert check.context["ok"] and check.context["total"] == 3
    assert 'data-testid="roster-confirm"' in text(check)
    assert not RosterEntry.objects.filter(college__name="数学学院").exists()  # not yet
    done = admin.post("/employment/school/roster/import/check/", {"op": "import"}, follow=True)
    assert any("已导入 3 名学生" in m for m in messages_of(done))
    imported = RosterEntry.objects.filter(school=world.school, year=YEAR, college__name="数学学院")
    assert imported.count() == 3
    assert not Blob.objects.filter(encryption_purpose=encryption.EMPLOYMENT_ROSTER).exists()
    assert admin.get("/employment/school/roster/import/check/").status_code == 404


def test_an_unusable_upload_stays_on_the_roster_page(admin: Client) -> None:
    response = upload(admin, b"not a spreadsheet", year=YEAR + 1)
    assert response.status_code == 400
    assert "无法读取" in text(response)
    assert response.context["import_year"] == YEAR + 1  # what was chosen is kept
    assert not Blob.objects.filter(encryption_purpose=encryption.EMPLOYMENT_ROSTER).exists()
    missing = admin.post("/employment/school/roster/import/", {"year": str(YEAR)})
    assert missing.status_code == 400 and "请选择要导入的 Excel 文件" in text(missing)


def test_the_kept_file_is_the_sessions_own(world: World, admin: Client) -> None:
    """Another session (even the same school's other admin) has no file to import, and the
    check page cannot be pointed at another file."""
    upload(admin, roster_sheet([student_row(make_signer("n1", "13700000061"), "20260061")]))
    other = client_for(world.school_admin, world.school.org)
    assert other.get("/employment/school/roster/import/check/").status_code == 404
    assert (
        other.post("/employment/school/roster/import/check/", {"op": "import"}).status_code == 404
    )


# --- 管理员设置 ----------------------------------------------------------------------------------


def test_the_school_admin_gives_a_member_a_college(world: World, admin: Client) -> None:
    member = make_signer("teacher", "13700000071", real_name="周老师")
    Membership.objects.create(org=world.school.org, user=member, role=Membership.Role.MEMBER)
    page = admin.get("/employment/school/staff/")
    assert "钱院办" in text(page) and "周老师" in text(page)
    computing = world.students["黄河"].college
    missing = admin.post(
        "/employment/school/staff/", {"user": str(member.pk), "role": "college_admin"}
    )
    assert missing.status_code == 400 and "学院管理员需要选择所在学院" in text(missing)
    done = admin.post(
        "/employment/school/staff/",
        {"user": str(member.pk), "role": "college_admin", "college": str(computing.pk)},
    )
    assert done.status_code == 302
    staff = Staff.objects.get(school=world.school, user=member)
    assert staff.role == Staff.Role.COLLEGE_ADMIN and staff.college == computing
    stranger = make_signer("stranger", "13700000072")
    refused = admin.post(
        "/employment/school/staff/",
        {"user": str(stranger.pk), "role": "school_admin"},
    )
    assert refused.status_code == 400
    assert not Staff.objects.filter(user=stranger).exists()


# --- 单位审核 ------------------------------------------------------------------------------------


def test_employers_are_approved_or_refused_with_a_reason(world: World, admin: Client) -> None:
    owner = world.users["长江"]
    org = make_verified_org(owner, name="光谷软件")
    employer_actions.do_request_approval(world.school, org, actor=owner)
    pending = admin.get("/employment/school/employers/")
    assert "光谷软件" in text(pending)
    url = f"/employment/school/employers/{org.uuid}/decide/"
    no_reason = admin.post(url, {"decision": "refuse"}, follow=True)
    assert any("原因" in m for m in messages_of(no_reason))
    approval = EmployerApproval.objects.get(school=world.school, employer=org)
    assert approval.status == EmployerApproval.Status.PENDING
    admin.post(url, {"decision": "refuse", "reason": "材料不全"})
    approval.refresh_from_db()
    assert approval.status == EmployerApproval.Status.REFUSED and approval.reason == "材料不全"
    assert "材料不全" in text(admin.get("/employment/school/employers/?tab=refused"))
    employer_actions.do_request_approval(world.school, org, actor=owner)
    admin.post(url, {"decision": "approve"})
    approval.refresh_from_db()
    assert approval.status == EmployerApproval.Status.APPROVED


def test_only_a_school_admin_decides_on_employers(world: World, college: Client) -> None:
    owner = world.users["长江"]
    org = make_verified_org(owner, name="光谷软件")
    employer_actions.do_request_approval(world.school, org, actor=owner)
    page = text(college.get("/employment/school/employers/"))
    assert "光谷软件" in page and 'data-testid="employer-approve"' not in page
    response = college.post(
        f"/employment/school/employers/{org.uuid}/decide/", {"decision": "approve"}
    )
    assert response.status_code == 404
    assert EmployerApproval.objects.get(employer=org).status == EmployerApproval.Status.PENDING


# --- 签约鉴证 (online) ---------------------------------------------------------------------------


def decide(client: Client, agreement: Agreement, **data: str) -> Any:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(f"/employment/agreements/{agreement.uuid}/school/", data)


def test_the_school_passes_an_agreement_with_its_seal_and_pin(world: World, admin: Client) -> None:
    agreement = accepted(world)
    seal = world.seal_uuid(world.school.org)
    page = text(admin.get(f"/employment/agreements/{agreement.uuid}/school/"))
    assert 'data-testid="employer-address"' in page  # 单位地址 missing: the school fills it in
    wrong = decide(admin, agreement, op="pass", seal=seal, pin="246813", address="光谷大道 1 号")
    assert wrong.status_code == 400
    assert "签署密码" in " ".join(messages_of(wrong))
    assert 'value="光谷大道 1 号"' in text(wrong)  # nothing typed is lost …
    assert "246813" not in text(wrong)  # … but the PIN
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACCEPTED
    done = decide(admin, agreement, op="pass", seal=seal, pin=PIN, address="光谷大道 1 号")
    assert done.status_code == 302 and done["Location"] == "/employment/school/agreements/"
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.PASSED
    assert agreement.employer_info["address"] == "光谷大道 1 号"
    assert agreement.decided_by == world.school_admin
    assert Envelope.objects.get(employment_agreement=agreement).status == Envelope.Status.COMPLETED
    record = EmploymentRecord.objects.get(agreement=agreement)
    assert record.employer_name == "星光集团" and record.ended_at is None
    assert RosterEntry.objects.get(pk=world.students["黄河"].pk).status == "signed"
    listed = admin.get("/employment/school/agreements/?status=passed")
    assert any("签约鉴证通过" in m for m in messages_of(listed))
    assert [a.pk for a in listed.context["page_obj"]] == [agreement.pk]
    # deciding again from a stale page: told, not a 500
    again = decide(admin, agreement, op="fail", reason="x")
    assert again.status_code == 409 and "等待签约鉴证" in " ".join(messages_of(again))


def test_the_school_fails_an_agreement_with_a_reason(world: World, admin: Client) -> None:
    agreement = accepted(world)
    empty = decide(admin, agreement, op="fail", reason="  ")
    assert empty.status_code == 400 and "原因" in " ".join(messages_of(empty))
    assert 'id="dlg-fail"' in text(empty) and "open" in text(empty).split('id="dlg-fail"')[1][:200]
    done = decide(admin, agreement, op="fail", reason="岗位信息不完整")
    assert done.status_code == 302 and done["Location"] == "/employment/school/agreements/"
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.FAILED and agreement.reason == "岗位信息不完整"
    assert Envelope.objects.get(employment_agreement=agreement).status == Envelope.Status.REJECTED
    assert RosterEntry.objects.get(pk=world.students["黄河"].pk).status == "unsigned"
    assert not EmploymentRecord.objects.filter(agreement=agreement).exists()


def test_a_college_admin_without_the_seal_can_only_fail(world: World, college: Client) -> None:
    agreement = accepted(world, "长江")
    page = text(college.get(f"/employment/agreements/{agreement.uuid}/school/"))
    assert 'data-testid="no-seal"' in page
    refused = decide(college, agreement, op="pass", seal=world.seal_uuid(world.school.org), pin=PIN)
    assert refused.status_code == 400
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACCEPTED
    decide(college, agreement, op="fail", reason="材料不全")
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.FAILED


def test_the_agreement_pdf_is_the_envelopes_current_document(world: World, admin: Client) -> None:
    agreement = accepted(world)
    response = admin.get(f"/employment/agreements/{agreement.uuid}/school/agreement.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert response["Content-Disposition"].startswith("inline")
    assert agreement.envelope is not None
    document = agreement.envelope.documents.get()
    assert response.content == document.current.read()
    assert AuditEvent.objects.filter(envelope=agreement.envelope, action="downloaded").exists()


# --- 线下签约 -----------------------------------------------------------------------------------


def test_paper_agreements_go_through_both_reviews(world: World, admin: Client) -> None:
    agreement = paper_agreement(world)
    pdf = admin.get(f"/employment/agreements/{agreement.uuid}/school/agreement.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    page = text(admin.get(f"/employment/agreements/{agreement.uuid}/school/"))
    assert "协议书审核通过" in page and 'data-testid="pass-form"' not in page
    failed = decide(admin, agreement, op="review_fail", reason="单位名称有误")
    assert failed.status_code == 302
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.PAPER_REVIEW_FAILED
    agreement = paper.do_submit_paper(agreement, actor=world.users["黄河"])
    decide(admin, agreement, op="review_pass")
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.PAPER_FEEDBACK
    scan = do_store_blob(b"%PDF-1.7 stamped scan", content_type="application/pdf")
    paper.do_upload_feedback(agreement, [scan], actor=world.users["黄河"])
    page = text(admin.get(f"/employment/agreements/{agreement.uuid}/school/"))
    assert f"/feedback/{scan.sha256}/" in page
    file = admin.get(f"/employment/agreements/{agreement.uuid}/school/feedback/{scan.sha256}/")
    assert file.status_code == 200 and file.content == b"%PDF-1.7 stamped scan"
    other = do_store_blob(b"not this agreement's", content_type="application/pdf")
    assert (
        admin.get(
            f"/employment/agreements/{agreement.uuid}/school/feedback/{other.sha256}/"
        ).status_code
        == 404
    )
    decide(admin, agreement, op="paper_fail", reason="缺少单位盖章")
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.PAPER_FEEDBACK  # the student uploads again
    paper.do_upload_feedback(agreement, [scan], actor=world.users["黄河"])
    done = decide(admin, agreement, op="paper_pass")
    assert done.status_code == 302 and done["Location"] == "/employment/school/agreements/"
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.PASSED
    assert EmploymentRecord.objects.filter(agreement=agreement, ended_at=None).exists()


# --- 解约鉴证 -----------------------------------------------------------------------------------


def waiting_termination(world: World) -> Termination:
    agreement = pass_it(world, accepted(world))
    return student_agrees(world, employer_applies(world, agreement))


def test_the_school_passes_a_termination_with_its_seal(world: World, admin: Client) -> None:
    termination = waiting_termination(world)
    agreement = termination.agreement
    listed = admin.get("/employment/school/terminations/?status=agreed")
    assert [t.pk for t in listed.context["page_obj"]] == [termination.pk]
    assert admin.get("/employment/school/").context["counts"].terminations == 1
    page = text(admin.get(f"/employment/agreements/{agreement.uuid}/school/"))
    assert "解约鉴证通过" in page and "岗位调整" in page
    pdf = admin.get(f"/employment/terminations/{termination.uuid}/school/letter.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    done = decide(
        admin, agreement, op="termination_pass", seal=world.seal_uuid(world.school.org), pin=PIN
    )
    assert done.status_code == 302 and done["Location"] == "/employment/school/terminations/"
    termination.refresh_from_db()
    agreement.refresh_from_db()
    assert termination.status == Termination.Status.PASSED
    assert agreement.status == Agreement.Status.TERMINATED
    letter = Envelope.objects.get(employment_termination=termination)
    assert letter.status == Envelope.Status.COMPLETED
    assert EmploymentRecord.objects.get(agreement=agreement).ended_at is not None
    assert RosterEntry.objects.get(pk=world.students["黄河"].pk).status == "terminated"


def test_the_school_fails_a_termination_and_the_agreement_stays(
    world: World, admin: Client
) -> None:
    termination = waiting_termination(world)
    agreement = termination.agreement
    empty = decide(admin, agreement, op="termination_fail", reason="")
    assert empty.status_code == 400
    done = decide(admin, agreement, op="termination_fail", reason="双方材料不一致")
    assert done.status_code == 302
    termination.refresh_from_db()
    agreement.refresh_from_db()
    assert termination.status == Termination.Status.FAILED
    assert termination.decision_reason == "双方材料不一致"
    assert agreement.status == Agreement.Status.PASSED
    # nothing waits any more: a second decision is told so
    again = decide(admin, agreement, op="termination_fail", reason="x")
    assert again.status_code == 409


def test_a_paper_termination_shows_its_proof_and_needs_no_seal(world: World, admin: Client) -> None:
    agreement = paper_agreement(world)
    paper.do_review_paper(agreement, passed=True, actor=world.school_admin)
    scan = do_store_blob(b"\x89PNG stamped", content_type="image/png")
    paper.do_upload_feedback(agreement, [scan], actor=world.users["黄河"])
    paper.do_decide_paper(agreement, passed=True, actor=world.school_admin)
    proof = do_store_blob(b"%PDF-1.7 proof", content_type="application/pdf")
    termination = termination_actions.do_apply_paper_termination(
        agreement, "个人原因", proof, actor=world.users["黄河"], meta=TASK
    )
    page = text(admin.get(f"/employment/agreements/{agreement.uuid}/school/"))
    assert 'data-testid="termination-proof"' in page and 'data-testid="seal-choice"' not in page
    shown = admin.get(f"/employment/terminations/{termination.uuid}/school/proof/")
    assert shown.status_code == 200 and shown.content == b"%PDF-1.7 proof"
    assert decide(admin, agreement, op="termination_pass").status_code == 302
    termination.refresh_from_db()
    assert termination.status == Termination.Status.PASSED


def test_an_unknown_decision_is_a_404(world: World, admin: Client) -> None:
    agreement = accepted(world)
    assert decide(admin, agreement, op="delete").status_code == 404


# --- 运营后台: 标记为学校 ------------------------------------------------------------------------


def test_only_operators_mark_a_school(world: World) -> None:
    org = make_verified_org(world.hr2, name="江汉职业学院")
    url = f"/backoffice/orgs/{org.uuid}/school/"
    anonymous = Client().post(url, {"check_mode": "id_number"})
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    for user in (world.hr2, world.school_admin):  # its own administrator, a school's
        assert client_for(user).post(url, {"check_mode": "id_number"}).status_code == 404
    operator = client_for(world.operator)
    page = operator.get(f"/backoffice/orgs/{org.uuid}/")
    assert 'data-testid="mark-school-form"' in text(page)
    done = operator.post(url, {"check_mode": "student_no"}, follow=True)
    assert any("标记为学校" in m for m in messages_of(done))
    school = org.school
    assert school.check_mode == "student_no" and school.marked_by == world.operator
    assert Staff.objects.filter(school=school, user=world.hr2, role="school_admin").exists()
    assert 'data-testid="mark-school-done"' in text(done)


def test_an_unverified_organisation_is_not_marked(world: World) -> None:
    org = make_verified_org(world.hr2, name="未认证学院", status="pending")
    operator = client_for(world.operator)
    response = operator.post(
        f"/backoffice/orgs/{org.uuid}/school/", {"check_mode": "id_number"}, follow=True
    )
    assert any("已认证" in m for m in messages_of(response))
    assert not hasattr(Organization.objects.get(pk=org.pk), "school")


def test_a_school_admin_edits_a_student_but_not_a_verified_name(world: World) -> None:
    entry = world.students["汉水"]
    url = reverse("employment:school-roster-edit", args=[entry.uuid])
    admin = client_for(world.school_admin, world.school.org)
    page = admin.get(url)
    assert page.status_code == 200 and "roster-edit-form" in page.content.decode()
    form = {
        "name": "汉水",
        "phone": "139 0000 0077",
        "college": "文学院",
        "major": "汉语言文学",
        "class_name": "1班",
    }
    assert admin.post(url, form).status_code == 302
    entry.refresh_from_db()
    assert (entry.phone, entry.college.name, entry.major) == ("13900000077", "文学院", "汉语言文学")
    # 汉水 passed 信息验证: the name was matched against the verified real name
    refused = admin.post(url, {**form, "name": "别人"})
    assert refused.status_code == 400 and "姓名不能修改" in refused.content.decode()
    entry.refresh_from_db()
    assert entry.name == "汉水" and entry.user == world.users["汉水"]
    bad_phone = admin.post(url, {**form, "phone": "12345"})
    assert bad_phone.status_code == 400


@pytest.mark.parametrize("who", ["college_admin", "school_b_admin", "hr1"])
def test_only_the_schools_admin_edits_its_roster(world: World, who: str) -> None:
    entry = world.students["长江"]
    url = reverse("employment:school-roster-edit", args=[entry.uuid])
    user, org = {
        "college_admin": (world.college_admin, world.school.org),
        "school_b_admin": (world.school_b_admin, world.school_b.org),
        "hr1": (world.hr1, world.employer),
    }[who]
    client = client_for(user, org)
    assert client.get(url).status_code == 404
    assert (
        client.post(url, {"name": "x", "phone": "13900000001", "college": "y"}).status_code == 404
    )
    entry.refresh_from_db()
    assert entry.name == "长江"
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
