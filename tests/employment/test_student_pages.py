"""The student's pages (学生用户中心): 信息验证 in both school modes, 线上签约 and the 邀请函
(同意 with 现在签约, signature and 签署密码; 拒绝), 解约办理 (apply, answer) and 线下签约 up to
等待签约鉴证 — through the pages, with the school's decisions done by actions — and who may
open them."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader

from qianshu.core.meta import TASK
from qianshu.employment.actions import paper as paper_actions
from qianshu.employment.actions import schools as school_actions
from qianshu.employment.models import Agreement, RosterEntry, Termination
from qianshu.envelopes.models import Recipient
from tests.employment.test_agreements import accept, invite, pass_it
from tests.employment.test_terminations import employer_applies, school_decides
from tests.employment.world import YEAR, World, roster_sheet, student_row
from tests.support.accounts import make_user
from tests.support.personas import PIN, make_signer

pytestmark = pytest.mark.django_db

WRONG_PIN = "135790" if PIN != "135790" else "246802"


def login(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def text(response: Any) -> str:
    return response.content.decode()


# --- who may open the pages -------------------------------------------------------------------


def _urls(world: World) -> tuple[list[str], list[str]]:
    """(pages of the student's own entry, pages of one agreement / termination of 黄河)."""
    agreement = invite(world, "黄河")
    termination = Termination.objects.create(
        agreement=agreement,
        student=agreement.student,
        side=Termination.Side.EMPLOYER,
        status=Termination.Status.REFUSED,
        reason="测试",
        applied_by=world.hr1,
    )
    own = [
        reverse("employment:student-invitations"),
        reverse("employment:student-terminations"),
        reverse("employment:student-paper"),
        reverse("employment:student-paper-edit"),
        reverse("employment:student-paper-confirm"),
    ]
    theirs = [
        reverse("employment:student-agreement", args=[agreement.uuid]),
        reverse("employment:student-agreement-pdf", args=[agreement.uuid]),
        reverse("employment:student-termination-apply", args=[agreement.uuid]),
        reverse("employment:student-termination", args=[termination.uuid]),
        reverse("employment:student-termination-letter", args=[termination.uuid]),
    ]
    return own, theirs


def test_anonymous_visitors_are_sent_to_the_login(world: World, client: Client) -> None:
    own, theirs = _urls(world)
    for url in [
        reverse("employment:student-home"),
        reverse("employment:student-verify"),
        *own,
        *theirs,
    ]:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response["Location"], url


def test_outsiders_get_404(world: World, client: Client) -> None:
    own, theirs = _urls(world)
    login(client, make_user("nobody", phone="13700000099"))  # no roster entry
    for url in own + theirs:
        assert client.get(url).status_code == 404, url
    # another student, and the inviting employer, are not 黄河
    for user in (world.users["长江"], world.hr1):
        login(client, user)
        for url in theirs:
            assert client.get(url).status_code == 404, url
    agreement_url = theirs[0]
    login(client, world.users["长江"])
    response = client.post(agreement_url, {"op": "accept", "now": "1", "pin": PIN})
    assert response.status_code == 404
    assert Agreement.objects.get().status == Agreement.Status.INVITED


# --- 信息验证 ------------------------------------------------------------------------------------


def test_home_sends_an_unverified_student_to_verification(world: World, client: Client) -> None:
    login(client, make_user("fresh", phone="13700000098"))
    response = client.get(reverse("employment:student-home"))
    assert response["Location"] == reverse("employment:student-verify")
    page = text(client.get(response["Location"]))
    assert "去实名认证" in page and reverse("identity:status") in page


def test_verification_by_real_name_and_id_number(world: World, client: Client) -> None:
    newcomer = make_signer("newcomer", "13700000051", real_name="清江")
    rows = [student_row(newcomer, "20260051")]
    school_actions.do_import_roster(
        world.school, YEAR, roster_sheet(rows), actor=world.school_admin
    )
    impostor = make_signer("impostor", "13700000052", real_name="清江")  # another ID number
    login(client, impostor)
    page = text(client.get(reverse("employment:student-verify")))
    assert "清江" in page and 'data-testid="verify-id-submit"' in page
    response = client.post(reverse("employment:student-verify"), {"op": "id_number"})
    assert response.status_code == 400
    assert "信息验证未通过" in text(response)
    assert not RosterEntry.objects.filter(user=impostor).exists()
    login(client, newcomer)
    response = client.post(reverse("employment:student-verify"), {"op": "id_number"})
    assert response["Location"] == reverse("employment:student-home")
    home = text(client.get(response["Location"]))
    assert "学生基本信息" in home and "20260051" in home and "江城理工大学" in home


def test_verification_by_student_number(world: World, client: Client) -> None:
    student = make_signer("bstudent", "13700000061", real_name="洞庭")
    data = roster_sheet([student_row(student, "B0001")])
    school_actions.do_import_roster(world.school_b, YEAR, data, actor=world.school_b_admin)
    login(client, student)
    url = reverse("employment:student-verify")
    assert "汉江师范学院" in text(client.get(url))
    wrong = {"op": "student_no", "school": world.school_b.pk, "student_no": "B0009", "name": "洞庭"}
    response = client.post(url, wrong)
    assert response.status_code == 400
    page = text(response)
    assert "信息验证未通过" in page and 'value="B0009"' in page  # what was typed is kept
    assert not RosterEntry.objects.filter(user=student).exists()
    response = client.post(url, {**wrong, "student_no": "B0001"})
    assert response.status_code == 302
    assert RosterEntry.objects.get(user=student).student_no == "B0001"


# --- 线上签约 ------------------------------------------------------------------------------------


def test_accepting_through_the_page_signs_and_makes_the_others_view_only(
    world: World, client: Client
) -> None:
    first, second = invite(world, "黄河"), invite(world, "黄河", "employer2")
    login(client, world.users["黄河"])
    home = text(client.get(reverse("employment:student-home")))
    assert 'data-testid="home-invitations"><strong>2</strong>' in home
    listing = text(client.get(reverse("employment:student-invitations")))
    assert listing.count('data-testid="invitation-row"') == 2 and "查看邀请函" in listing
    url = reverse("employment:student-agreement", args=[first.uuid])
    page = text(client.get(url))
    assert "软件工程师" in page and "星光集团" in page and "签约过程记录" in page
    assert "同意签约后将与该单位" in page and "现在签约" in page
    pdf = client.get(reverse("employment:student-agreement-pdf", args=[first.uuid]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")

    student_step = first.envelope.recipients.get(routing_order=2)  # type: ignore[union-attr]
    response = client.post(url, {"op": "accept", "now": "1", "pin": WRONG_PIN})
    assert response.status_code == 400 and 'data-testid="accept-error"' in text(response)
    first.refresh_from_db()
    student_step.refresh_from_db()
    assert first.status == Agreement.Status.INVITED
    assert student_step.status != Recipient.Status.DONE

    response = client.post(url, {"op": "accept", "now": "1", "pin": PIN})
    assert response["Location"] == reverse("employment:student-invitations")
    first.refresh_from_db()
    student_step.refresh_from_db()
    assert first.status == Agreement.Status.ACCEPTED
    assert student_step.status == Recipient.Status.DONE
    assert student_step.acted_by == world.users["黄河"]
    signed = client.get(reverse("employment:student-agreement-pdf", args=[first.uuid])).content
    names = [s.field_name for s in PdfFileReader(io.BytesIO(signed)).embedded_signatures]
    before = [s.field_name for s in PdfFileReader(io.BytesIO(pdf.content)).embedded_signatures]
    # the student's signature and signing date after the employer's seal and date
    assert len(names) == len(before) + 2

    listing = text(client.get(reverse("employment:student-invitations")))
    assert "只能查看" in listing and "等待签约鉴证" in listing
    other = reverse("employment:student-agreement", args=[second.uuid])
    page = text(client.get(other))
    assert 'data-testid="letter-view-only"' in page and 'data-testid="letter-accept"' not in page
    response = client.post(other, {"op": "accept", "now": "1", "pin": PIN})
    assert response.status_code == 400 and "您已与其他单位签约" in text(response)
    second.refresh_from_db()
    assert second.status == Agreement.Status.INVITED


def test_accepting_needs_the_second_confirmation(world: World, client: Client) -> None:
    agreement = invite(world, "黄河")
    login(client, world.users["黄河"])
    url = reverse("employment:student-agreement", args=[agreement.uuid])
    response = client.post(url, {"op": "accept", "pin": PIN})  # 现在签约 not pressed
    assert response.status_code == 400 and "现在签约" in text(response)
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.INVITED
    assert 'data-testid="dialog-accept" open' in text(client.get(url + "?step=accept"))


def test_rejecting_through_the_page(world: World, client: Client) -> None:
    agreement = invite(world, "长江")
    login(client, world.users["长江"])
    url = reverse("employment:student-agreement", args=[agreement.uuid])
    response = client.post(url, {"op": "reject", "reason": "已考研"})
    assert response.status_code == 302
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.REJECTED and agreement.reason == "已考研"
    page = text(client.get(url))
    assert "已拒绝" in page and 'data-testid="letter-actions"' not in page


def test_a_failed_agreement_shows_the_reason(world: World, client: Client) -> None:
    from qianshu.employment.actions.agreements import do_fail_agreement

    agreement = accept(world, invite(world, "黄河"), "黄河")
    do_fail_agreement(agreement, "材料不全", actor=world.school_admin, meta=TASK)
    login(client, world.users["黄河"])
    listing = text(client.get(reverse("employment:student-invitations")))
    assert "签约鉴证不通过" in listing and "材料不全" in listing


# --- 解约办理 ------------------------------------------------------------------------------------


def test_applying_for_termination_through_the_page(world: World, client: Client) -> None:
    agreement = pass_it(world, accept(world, invite(world, "黄河"), "黄河"))
    login(client, world.users["黄河"])
    page = text(client.get(reverse("employment:student-terminations")))
    assert "解约申请" in page and "我同意并遵守以上规定" in page and "解约机会仅有一次" in page
    url = reverse("employment:student-termination-apply", args=[agreement.uuid])
    response = client.post(url, {"reason": "考取研究生", "pin": PIN})  # 须知 not accepted
    assert response.status_code == 400 and "请先阅读并勾选同意解约须知" in text(response)
    assert "考取研究生" in text(response)
    response = client.post(url, {"rules": "on", "reason": "考取研究生", "pin": WRONG_PIN})
    assert response.status_code == 400
    assert not Termination.objects.exists()
    response = client.post(url, {"rules": "on", "reason": "考取研究生", "pin": PIN})
    assert response["Location"] == reverse("employment:student-terminations")
    termination = Termination.objects.get()
    assert termination.side == Termination.Side.STUDENT
    assert termination.status == Termination.Status.APPLIED
    page = text(client.get(reverse("employment:student-terminations")))
    assert "等待单位同意" in page and 'data-testid="termination-apply"' not in page


def test_answering_the_employers_termination_through_the_page(world: World, client: Client) -> None:
    agreement = pass_it(world, accept(world, invite(world, "黄河"), "黄河"))
    termination = employer_applies(world, agreement)
    login(client, world.users["黄河"])
    home = text(client.get(reverse("employment:student-home")))
    assert 'data-testid="home-terminations"><strong>1</strong>' in home
    page = text(client.get(reverse("employment:student-terminations")))
    assert "查看解约" in page
    url = reverse("employment:student-termination", args=[termination.uuid])
    page = text(client.get(url))
    assert "岗位调整" in page and "同意解约" in page and "不同意" in page
    response = client.post(url, {"op": "agree", "pin": PIN})  # 须知 not ticked
    assert response.status_code == 400
    response = client.post(url, {"op": "agree", "rules": "on", "pin": WRONG_PIN})
    assert response.status_code == 400
    termination.refresh_from_db()
    assert termination.status == Termination.Status.APPLIED
    response = client.post(url, {"op": "agree", "rules": "on", "pin": PIN})
    assert response.status_code == 302
    termination.refresh_from_db()
    assert termination.status == Termination.Status.AGREED
    assert "等待解约鉴证" in text(client.get(reverse("employment:student-terminations")))

    school_decides(world, termination, passed=True)
    page = text(client.get(reverse("employment:student-terminations")))
    assert 'data-testid="termination-once"' in page and "下载解约函" in page
    assert 'data-testid="termination-apply"' not in page
    letter = client.get(reverse("employment:student-termination-letter", args=[termination.uuid]))
    assert letter["Content-Type"] == "application/pdf" and letter.content.startswith(b"%PDF")


def test_refusing_the_employers_termination(world: World, client: Client) -> None:
    agreement = pass_it(world, accept(world, invite(world, "黄河"), "黄河"))
    termination = employer_applies(world, agreement)
    login(client, world.users["黄河"])
    url = reverse("employment:student-termination", args=[termination.uuid])
    assert client.post(url, {"op": "refuse", "reason": "不同意调岗"}).status_code == 302
    termination.refresh_from_db()
    assert termination.status == Termination.Status.REFUSED
    page = text(client.get(reverse("employment:student-terminations")))
    assert "不同意调岗" in page and 'data-testid="termination-apply"' in page


# --- 线下签约 ------------------------------------------------------------------------------------

PAPER = {
    "terms_position": "中学教师",
    "terms_contract_term": "五年",
    "terms_work_place": "宜昌",
    "employer_name": "宜昌市第一中学",
    "employer_nature": "事业单位",
    "archive_unit": "宜昌市教育局",
    "hukou_address": "宜昌市西陵区",
}


def png(size: int = 400) -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (size, size), "white").save(out, format="PNG")
    out.seek(0)
    out.name = "scan.png"
    return out


def test_the_paper_flow_through_the_pages(world: World, client: Client) -> None:
    login(client, world.users["汉水"])
    page = text(client.get(reverse("employment:student-paper")))
    assert "录入协议书" in page and 'data-testid="paper-enter"' in page
    edit = reverse("employment:student-paper-edit")
    assert "签约信息" in text(client.get(edit)) and "户口信息" in text(client.get(edit))
    response = client.post(edit, {**PAPER, "op": "save"})
    assert response["Location"] == edit
    agreement = Agreement.objects.get(mode=Agreement.Mode.OFFLINE)
    assert agreement.status == Agreement.Status.PAPER_DRAFT
    assert 'value="宜昌市第一中学"' in text(client.get(edit))  # continue later

    response = client.post(edit, {**PAPER, "op": "submit"})  # 统一社会信用代码 missing
    assert response.status_code == 400 and "统一社会信用代码" in text(response)
    assert 'value="中学教师"' in text(response)
    full = {**PAPER, "employer_credit_code": "12420500MB1234567X"}
    response = client.post(edit, {**full, "op": "preview"})
    pdf = client.get(response["Location"])
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    response = client.post(edit, {**full, "op": "submit"})
    confirm = reverse("employment:student-paper-confirm")
    assert response["Location"] == confirm
    assert client.post(confirm, {}).status_code == 400  # the confirmation box not ticked
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.PAPER_DRAFT
    assert client.post(confirm, {"checked": "on"}).status_code == 302
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.PAPER_REVIEW
    assert client.get(edit).status_code == 302  # no more changes under review

    paper_actions.do_review_paper(
        agreement, passed=False, reason="单位名称有误", actor=world.school_admin
    )
    page = text(client.get(reverse("employment:student-paper")))
    assert "单位名称有误" in page and "修改协议书" in page
    client.post(edit, {**full, "op": "submit"})
    client.post(confirm, {"checked": "on"})
    agreement.refresh_from_db()
    paper_actions.do_review_paper(agreement, passed=True, actor=world.school_admin)

    paper_url = reverse("employment:student-paper")
    page = text(client.get(paper_url))
    assert "待反馈" in page and "下载协议书" in page and 'data-testid="paper-feedback"' in page
    bad = io.BytesIO(b"MZ not a picture")
    bad.name = "scan.png"
    response = client.post(paper_url, {"scans": [bad]})
    assert response.status_code == 400 and "scan.png" in text(response)
    response = client.post(paper_url, {"scans": [png(), png(500)]})
    assert response.status_code == 302
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.PAPER_WAITING
    assert agreement.feedback.count() == 2
    assert "等待签约鉴证" in text(client.get(paper_url))


def test_paper_entry_is_refused_while_bound_online(world: World, client: Client) -> None:
    accept(world, invite(world, "黄河"), "黄河")
    login(client, world.users["黄河"])
    page = text(client.get(reverse("employment:student-paper")))
    assert 'data-testid="paper-blocked"' in page and 'data-testid="paper-enter"' not in page
    response = client.post(reverse("employment:student-paper-edit"), {**PAPER, "op": "save"})
    assert response.status_code == 302
    assert not Agreement.objects.filter(mode=Agreement.Mode.OFFLINE).exists()


def test_paper_termination_with_the_stamped_proof(world: World, client: Client) -> None:
    student, user = world.students["汉水"], world.users["汉水"]
    agreement = paper_actions.do_save_paper_draft(
        student,
        terms={"position": "翻译"},
        employer={"name": "宜昌外贸公司", "credit_code": "91420500MA1234567X"},
        archive={"unit": "宜昌人才中心"},
        hukou={},
        actor=user,
    )
    paper_actions.do_submit_paper(agreement, actor=user)
    paper_actions.do_review_paper(agreement, passed=True, actor=world.school_admin)
    from qianshu.storage.actions import do_store_blob

    scan = do_store_blob(png().getvalue(), content_type="image/png")
    paper_actions.do_upload_feedback(agreement, [scan], actor=user)
    paper_actions.do_decide_paper(agreement, passed=True, actor=world.school_admin)
    login(client, user)
    url = reverse("employment:student-termination-apply", args=[agreement.uuid])
    page = text(client.get(url))
    assert "单位盖章的解约证明" in page and 'enctype="multipart/form-data"' in page
    response = client.post(url, {"rules": "on", "reason": "出国留学"})
    assert response.status_code == 400 and "请上传单位盖章的解约证明" in text(response)
    response = client.post(url, {"rules": "on", "reason": "出国留学", "proof": png()})
    assert response.status_code == 302
    termination = Termination.objects.get()
    assert termination.status == Termination.Status.AGREED and termination.proof is not None


def test_the_pages_speak_english_when_switched(world: World) -> None:
    agreement = invite(world, "黄河")
    client = login(Client(headers={"accept-language": "en"}), world.users["黄河"])
    home = text(client.get(reverse("employment:student-home")))
    assert "Invitations received" in home and "Student details" in home
    letter = text(client.get(reverse("employment:student-agreement", args=[agreement.uuid])))
    assert "Sign now" in letter and "Signing history" in letter and "现在签约" not in letter
    paper = text(client.get(reverse("employment:student-paper-edit")))
    assert "Save and generate the agreement" in paper and "Hukou" in paper
