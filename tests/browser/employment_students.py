"""The students' steps of the employment scenario (:mod:`.test_scenario_employment`), at
phone size: 信息验证, 查看邀请函 → 同意 → 现在签约 (signature and PIN) or 拒绝, an invitation
left to expire, 查看解约 → 同意解约, the 解约函, the refused second 解约申请, and 录入协议书 to
反馈协议书; and the checks both sides share (a flash message, an envelope completed, the signers
of a signed PDF)."""

from __future__ import annotations

import datetime as dt
import io
import time
from pathlib import Path
from typing import Any

from django.utils import timezone
from PIL import Image

from qianshu.employment.models import Agreement, Termination
from qianshu.envelopes.models import Envelope
from qianshu.envelopes.tasks import run_timers
from tests.browser import employment_world as ew
from tests.browser import scenario
from tests.browser.employment_world import EMPLOYER, EMPLOYER2, SCHOOL, World
from tests.browser.flows import login_by_sms
from tests.support.personas import PIN

#: Requests that sign (a seal, a signature, a completion with its time-stamps) on a slow machine.
SIGNING = 180_000


# --- shared checks ---------------------------------------------------------------------------


def message(page: Any, text: str) -> None:
    page.locator(".msg").filter(has_text=text).first.wait_for()


def completed(envelope: Envelope) -> None:
    """Completion runs right after the last signature (tasks run inline); bounded wait."""
    for _ in range(60):
        envelope.refresh_from_db()
        if envelope.status == Envelope.Status.COMPLETED:
            return
        time.sleep(0.5)
    raise AssertionError(f"{envelope.number} is {envelope.status}")


def check_signers(report: Any, person: str, first_org: str) -> None:
    """The signatures in order: ``first_org``'s seal and date, ``person``'s signature and date,
    the school's seal and date."""
    platform = ("QS-Certification", "QS-Completion")
    signed = [
        s for s in report.signatures if s.kind == "signature" and s.field_name not in platform
    ]
    # each party's signing date is a second signature of that party, right after its mark
    assert [s.signer_name for s in signed if not s.organisation] == [person, person]
    orgs = [s.organisation for s in signed if s.organisation]
    assert orgs == [first_org, first_org, SCHOOL, SCHOOL], orgs


# --- 3. 线上签约 ---------------------------------------------------------------------------------


def student_logs_in(page: Any, w: World, letter: str, shots: scenario.Shots | None) -> None:
    """Login, 信息验证 (the verified name and ID number match the roster), 学生用户中心."""
    login_by_sms(page, w.students[letter].phone)
    page.goto("/employment/")
    page.get_by_test_id("verify-id").wait_for()
    if shots:
        shots(page, f"student-{letter}-verify")
    page.get_by_test_id("verify-id-submit").click()
    page.get_by_test_id("student-info").wait_for()
    message(page, "信息验证通过")
    assert w.entry(letter).user == w.students[letter]


def _open_invitation(page: Any, employer: str) -> None:
    page.goto("/employment/student/invitations/")
    row = page.get_by_test_id("invitation-row").filter(has_text=employer)
    row.get_by_test_id("invitation-open").click()
    page.get_by_test_id("letter-head").wait_for()
    # The page's scripts run and its layout settled before the next click (拒绝 once stayed
    # closed after a click under a loaded suite: neither its script nor its link acted).
    page.wait_for_load_state("load")


def _accept(page: Any, employer: str, shots: scenario.Shots, name: str) -> None:
    """查看邀请函 → 同意 → 现在签约 → the saved signature and the PIN → 确认签约."""
    _open_invitation(page, employer)
    shots(page, f"{name}-letter")
    page.get_by_test_id("letter-accept").click()
    confirm = page.get_by_test_id("dialog-confirm")
    confirm.wait_for()
    assert "其他单位的邀请函将只能查看" in confirm.inner_text()
    shots(page, f"{name}-sign-now", screen=True)
    page.get_by_test_id("letter-sign-now").click()
    dialog = page.get_by_test_id("dialog-accept")
    dialog.wait_for()
    dialog.locator("[data-em-saved]").wait_for()  # the default handwritten signature
    dialog.get_by_test_id("pin").fill(PIN)
    shots(page, f"{name}-sign-pin", screen=True)
    dialog.get_by_test_id("accept-submit").click(timeout=SIGNING)
    page.wait_for_url("**/student/invitations/", timeout=SIGNING)
    message(page, "已同意签约")
    row = page.get_by_test_id("invitation-row").filter(has_text=employer)
    assert row.get_by_test_id("invitation-status").inner_text() == "等待签约鉴证"


def a_accepts(page: Any, w: World, shots: scenario.Shots) -> None:
    """A: 已收邀约 2 → 星光集团's 邀请函 → 同意; 楚天科技's becomes view-only."""
    student_logs_in(page, w, "A", shots)
    assert page.get_by_test_id("home-invitations").locator("strong").inner_text() == "2"
    shots(page, "student-A-home")
    page.get_by_test_id("home-invitations").click()
    page.get_by_test_id("invitation-list").wait_for()
    assert page.get_by_test_id("invitation-row").count() == 2
    shots(page, "student-A-invitations")
    _accept(page, EMPLOYER, shots, "student-A")
    other = page.get_by_test_id("invitation-row").filter(has_text=EMPLOYER2)
    assert other.get_by_test_id("invitation-status").inner_text() == "只能查看"
    page.get_by_test_id("invitations-bound").wait_for()
    shots(page, "student-A-accepted")
    _open_invitation(page, EMPLOYER2)
    page.get_by_test_id("letter-view-only").wait_for()
    assert not page.get_by_test_id("letter-actions").count()
    shots(page, "student-A-view-only")


def b_refuses(page: Any, w: World, shots: scenario.Shots) -> None:
    student_logs_in(page, w, "B", None)
    _open_invitation(page, EMPLOYER)
    page.get_by_test_id("letter-reject").click()
    dialog = page.get_by_test_id("dialog-reject")
    dialog.wait_for()
    dialog.get_by_test_id("reject-reason").fill("已考取研究生。")
    shots(page, "student-B-reject", screen=True)
    dialog.get_by_test_id("reject-submit").click(timeout=SIGNING)
    page.wait_for_url("**/student/invitations/")
    message(page, "已拒绝")
    assert page.get_by_test_id("invitation-status").inner_text() == "已拒绝"
    shots(page, "student-B-rejected")


def c_lets_it_expire(page: Any, w: World, c: Agreement, shots: scenario.Shots) -> None:
    """The 反馈期限 moved into the past, the timers run: 已过期 (the envelope ends too)."""
    Agreement.objects.filter(pk=c.pk).update(deadline=timezone.now() - dt.timedelta(minutes=1))
    result = scenario.off_loop(run_timers)
    assert result["invitations_expired"] == 1, result
    c.refresh_from_db()
    assert c.status == Agreement.Status.EXPIRED
    assert c.envelope is not None and c.envelope.status == Envelope.Status.EXPIRED
    student_logs_in(page, w, "C", None)
    page.goto("/employment/student/invitations/")
    assert page.get_by_test_id("invitation-status").inner_text() == "已过期"
    shots(page, "student-C-expired")
    _open_invitation(page, EMPLOYER)
    assert page.get_by_test_id("letter-status").inner_text() == "已过期"
    assert not page.get_by_test_id("letter-actions").count()


def d_accepts_another(page: Any, w: World, shots: scenario.Shots) -> None:
    student_logs_in(page, w, "D", None)
    page.goto("/employment/student/invitations/")
    assert page.get_by_test_id("invitation-row").count() == 2
    _accept(page, EMPLOYER2, shots, "student-D")
    mine = page.get_by_test_id("invitation-row").filter(has_text=EMPLOYER)
    assert mine.get_by_test_id("invitation-status").inner_text() == "只能查看"


# --- 5. 解约 -------------------------------------------------------------------------------------


def a_agrees(page: Any, shots: scenario.Shots) -> None:
    """学生用户中心's 解约待办 (1) → 解约办理 → 查看解约 → 解约须知 → 同意解约 with the PIN."""
    page.goto("/employment/student/")
    todo = page.get_by_test_id("home-terminations")
    assert todo.locator("strong").inner_text() == "1"
    todo.click()
    page.wait_for_url("**/student/terminations/")
    page.get_by_test_id("termination-view").click()
    answer = page.get_by_test_id("termination-answer")
    answer.wait_for()
    assert (
        page.get_by_test_id("termination-reason-text").inner_text()
        == "岗位调整，经双方协商解除协议。"
    )
    agree = page.get_by_test_id("termination-agree")
    assert agree.is_disabled()  # until the 解约须知 is accepted
    page.get_by_test_id("termination-rules").check()
    answer.get_by_test_id("pin").fill(PIN)
    shots(page, "student-A-termination")
    agree.click(timeout=SIGNING)
    page.wait_for_url("**/student/terminations/", timeout=SIGNING)
    message(page, "已同意解约")
    assert "等待解约鉴证" in page.get_by_test_id("termination-state").inner_text()
    shots(page, "student-A-agreed")


def letter_is_signed(
    page: Any, termination: Termination, tmp_path: Path, shots: scenario.Shots
) -> None:
    """A downloads the 解约函: the employer's seal, A's consent, the school's seal."""
    assert termination.letter is not None
    completed(termination.letter)
    page.goto("/employment/student/terminations/")
    page.get_by_test_id("termination-once").wait_for()
    shots(page, "student-A-terminated")
    name, data = scenario.download(page, "termination-letter")
    assert name == f"解约函-{termination.agreement.number}.pdf"
    report = scenario.check_final_pdf(data, tmp_path)
    check_signers(report, "黄河", EMPLOYER)
    shots.pdf_page(data, 0, "termination-letter")


def second_termination_refused(page: Any, w: World, again: Agreement, shots: Any) -> None:
    """A signed again with 楚天科技 (actions); 解约办理 offers no 解约申请, and the form posted
    anyway is refused: 解约机会仅有一次."""
    scenario.off_loop(ew.sign_again_elsewhere, w, again)
    page.goto("/employment/student/terminations/")
    row = page.get_by_test_id("termination-row").filter(has_text=EMPLOYER2)
    row.wait_for()
    assert not row.get_by_test_id("termination-apply").count()
    page.goto(f"/employment/student/terminations/apply/{again.uuid}/")
    form = page.get_by_test_id("termination-apply-form")
    form.get_by_test_id("termination-rules").check()
    form.get_by_test_id("termination-reason").fill("想换一家单位。")
    form.get_by_test_id("pin").fill(PIN)
    form.get_by_test_id("termination-submit").click()
    form.locator(".msg-error").filter(has_text="解约机会仅有一次").wait_for()
    shots(page, "student-A-second-refused")
    assert not Termination.objects.filter(agreement=again).exists()


# --- 6. 线下签约 ---------------------------------------------------------------------------------


PAPER = {
    "terms-position": "结构工程师",
    "terms-contract_term": "3年",
    "terms-salary": "7500元/月",
    "terms-work_place": "湖北省宜昌市",
    "employer-name": "宜昌长江建设集团有限公司",
    "employer-credit_code": "91420500MA4F2Q3X1K",
    "employer-nature": "国有企业",
    "employer-industry": "建筑业",
    "employer-location": "湖北省宜昌市",
    "archive-unit": "宜昌市人才服务中心",
    "hukou-address": "湖北省宜昌市西陵区",
}


def e_enters_paper(page: Any, w: World, shots: scenario.Shots) -> None:
    """录入协议书: part, 暂存, the rest, 预览协议书, 保存并生成协议书 → the check page and
    the prompt (two confirmations)."""
    student_logs_in(page, w, "E", None)
    page.get_by_test_id("menu-paper").click()
    page.get_by_test_id("paper-enter").click()
    items = list(PAPER.items())
    for key, value in items[:4]:
        page.get_by_test_id(f"paper-{key}").fill(value)
    page.get_by_test_id("paper-save").click()
    message(page, "已暂存")
    for key, value in items[4:]:
        page.get_by_test_id(f"paper-{key}").fill(value)
    assert page.get_by_test_id("paper-terms-position").input_value() == PAPER["terms-position"]
    shots(page, "student-E-paper-form")
    with page.context.expect_page() as popup_info:
        page.get_by_test_id("paper-preview").click()
    popup = popup_info.value
    popup.wait_for_load_state("commit")
    assert "/student/pdf/" in popup.url, popup.url
    popup.close()
    page.get_by_test_id("paper-submit").click()
    page.get_by_test_id("paper-confirm-form").wait_for()
    page.get_by_test_id("paper-confirm-check").check()
    shots(page, "student-E-paper-confirm")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("paper-confirm-submit").click()
    message(page, "协议书已生成")
    assert page.get_by_test_id("paper-status").inner_text() == "协议书审核"
    shots(page, "student-E-paper-review")


def e_uploads_scan(page: Any, tmp_path: Path, shots: scenario.Shots) -> None:
    page.goto("/employment/student/paper/")
    assert page.get_by_test_id("paper-status").inner_text() == "待反馈"
    scan = tmp_path / "协议书扫描件.png"
    image = Image.new("RGB", (600, 800), "white")
    for x in range(100, 300):
        for y in range(600, 640):
            image.putpixel((x, y), (200, 30, 30))  # the stamp's ink
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    scan.write_bytes(buffer.getvalue())
    page.get_by_test_id("feedback").set_input_files(str(scan))
    shots(page, "student-E-feedback")
    page.get_by_test_id("paper-feedback-submit").click()
    message(page, "协议书已反馈")
    assert page.get_by_test_id("paper-status").inner_text() == "等待签约鉴证"
