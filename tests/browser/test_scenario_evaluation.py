"""Seed 000 end to end in the browser: the annual evaluation form (考核一张表) of a university.

HR (孙丽 of 人事处, acting for 江城理工大学) starts “何建宇2022年年度考核表” at the
desktop with the one-page form, four parties in order: 1 the employee 何建宇 (个人签署:
signature, date and the 文本 被考核人承诺及意见), 2 the department head 艾震 (个人签署), 3 the
department 创业学院 (企业盖章; its seal keeper 吴凯), 4 the university (企业盖章; HR holds
the 人事专用章 grant). Then, as the manual describes: the employee finds the task in 待我签署,
预览, 签署, 一键盖章 → “是否使用已有的手写签名图片？” → 重新采集 and writes on the pad,
fills in the text, 提交签署 → 结束盖章 → PIN; the head signs with 是 from the SMS link; the
keeper and HR seal from 待我签署. The signers use a phone in one run and a desktop in the
other. The final PDF verifies as B-LTA (our verifier, pyHanko's long-term validation,
pdfsig). A second, short test: the employee 拒签 with a reason, and HR sees 已拒签 and the
reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.envelopes import compose
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.geometry import SEAL_SIZE, SIGNATURE_SIZE, TEXT_SIZE
from qianshu.envelopes.models import Envelope, Field, Recipient
from qianshu.notifications.models import OutboxMessage
from qianshu.orgs.models import Organization, Seal
from qianshu.pki.actions import do_init_pki
from tests.browser import scenario
from tests.browser.flows import login_by_sms
from tests.browser.scenario import FORM_SPOTS, Pointer, Row, spot_rect
from tests.envelopes.helpers import field

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UNIVERSITY = "江城理工大学"
DEPARTMENT = "江城理工大学创业学院"
TITLE = "何建宇2022年年度考核表"
PROMISE_LABEL = "被考核人承诺及意见"
OPINION = "本人对考核结果无异议。"
HR_PASSWORD = "Kaohe-2022-renshichu"


@pytest.fixture(autouse=True)
def _pki() -> None:
    do_init_pki(name="测试平台")


@dataclass
class World:
    hr: User  # 人事处: starts the task, and seals for the university
    employee: User  # 被考核人
    head: User  # 负责人 of the department
    keeper: User  # the department's 用印人
    university: Organization
    department: Organization


def _world() -> World:
    hr = scenario.person("孙丽", "13900020001", password=HR_PASSWORD)
    employee = scenario.person("何建宇", "13900020002")
    head = scenario.person("艾震", "13900020003")
    keeper = scenario.person("吴凯", "13900020004")
    institution = Organization.Kind.INSTITUTION
    university = scenario.organisation(hr, UNIVERSITY, seals=[(Seal.Kind.HR, hr)], kind=institution)
    department = scenario.organisation(
        keeper, DEPARTMENT, seals=[(Seal.Kind.OFFICIAL, keeper)], kind=institution
    )
    return World(hr, employee, head, keeper, university, department)


def _form(tmp_path: Path, title: str = TITLE) -> Path:
    pdf = tmp_path / f"{title}.pdf"
    pdf.write_bytes(scenario.make_evaluation_form("何建宇", "创业学院"))
    return pdf


# --- HR starts the task -------------------------------------------------------------------------


def _start(page: Any, w: World, tmp_path: Path, shots: scenario.Shots) -> Envelope:
    login_by_sms(page, w.hr.phone)
    scenario.act_for(page, w.university)
    scenario.upload(page, _form(tmp_path))  # the task is named after the file
    scenario.fill_recipients(
        page,
        [
            Row("sign", "何建宇", w.employee.phone),
            Row("sign", "艾震", w.head.phone),
            Row("seal", DEPARTMENT, w.keeper.phone, contact="吴凯", seal_kind="official"),
        ],
    )
    # the university itself: 添加本企业 fills in the organisation and HR as its contact
    page.get_by_role("button", name="添加本企业").click()
    own = page.get_by_test_id("recipient-row").nth(3)
    assert own.locator("input[name$='-name']").input_value() == UNIVERSITY
    assert own.locator("input[name$='-contact_name']").input_value() == "孙丽"
    assert own.locator("input[name$='-phone']").input_value() == w.hr.phone
    assert own.locator("input[name$='-routing_order']").input_value() == "4"
    assert own.get_by_test_id("org-chosen").is_visible()  # the verified university, chosen
    shots(page, "hr-recipients")
    envelope = Envelope.objects.get(initiator=w.hr)
    scenario.open_editor(page, envelope)
    mouse = Pointer(page, touch=False)
    scenario.place_field(page, mouse, 0, "text", 0, FORM_SPOTS["employee_text"])
    scenario.label_text_field(page, PROMISE_LABEL)
    scenario.place_field(page, mouse, 0, "signature", 0, FORM_SPOTS["employee_signature"])
    scenario.place_field(page, mouse, 0, "date", 0, FORM_SPOTS["employee_date"])
    scenario.place_field(page, mouse, 1, "signature", 0, FORM_SPOTS["head_signature"])
    scenario.place_field(page, mouse, 2, "seal", 0, FORM_SPOTS["department_seal"])
    scenario.place_field(page, mouse, 3, "seal", 0, FORM_SPOTS["hr_seal"])
    scenario.point_on(page, page.get_by_test_id("editor-page").first, 0.5, 0.72)
    shots(page, "hr-fields", screen=True)
    scenario.save_fields(page, 6)
    _check_fields(envelope)
    scenario.send(page, envelope, 4, shots, "hr-summary")
    shots(page, "hr-sent")
    envelope.refresh_from_db()
    assert (envelope.title, envelope.initiator_org) == (TITLE, w.university)
    return envelope


def _check_fields(envelope: Envelope) -> None:
    employee, head, department, university = envelope.recipients.order_by("routing_order")
    kinds = {
        r.name: sorted(Field.objects.filter(recipient=r).values_list("kind", flat=True))
        for r in (employee, head, department, university)
    }
    assert kinds == {
        "何建宇": ["date", "signature", "text"],
        "艾震": ["signature"],
        DEPARTMENT: ["seal"],
        UNIVERSITY: ["seal"],
    }
    text = Field.objects.get(recipient=employee, kind="text")
    assert text.label == PROMISE_LABEL
    scenario.assert_field_at(text, FORM_SPOTS["employee_text"])
    scenario.assert_field_at(
        Field.objects.get(recipient=employee, kind="signature"), FORM_SPOTS["employee_signature"]
    )
    scenario.assert_field_at(Field.objects.get(recipient=head), FORM_SPOTS["head_signature"])
    scenario.assert_field_at(Field.objects.get(recipient=department), FORM_SPOTS["department_seal"])
    scenario.assert_field_at(Field.objects.get(recipient=university), FORM_SPOTS["hr_seal"])
    assert university.required_seal_kind == "" and department.required_seal_kind == "official"


# --- the four parties ---------------------------------------------------------------------------


def _from_todo_list(page: Any, pointer: Pointer, envelope: Envelope, shots: Any, name: str) -> None:
    """文件管理 → 待我签署 → the task's 签署 → 签署文件列表."""
    scenario.go_to_list(page, pointer.touch)
    row = page.locator(f'[data-envelope="{envelope.uuid}"]')
    row.wait_for()
    assert row.get_by_test_id("row-initiator").inner_text() == UNIVERSITY
    shots(page, f"{name}-todo")
    pointer.press(row.get_by_test_id("row-sign"))
    page.wait_for_url(f"**/envelopes/{envelope.uuid}/sign/")


def _employee(page: Any, w: World, envelope: Envelope, shots: Any) -> None:
    """何建宇: 待我签署 → 预览 → 签署 → 重新采集 on the pad → the text → 提交签署."""
    pointer = Pointer(page, touch=page.viewport_size["width"] < 500)
    login_by_sms(page, w.employee.phone)
    scenario.go_to_list(page, pointer.touch)
    row = page.locator(f'[data-envelope="{envelope.uuid}"]')
    assert page.get_by_test_id("todo-count").inner_text() == "1"
    assert row.get_by_test_id("row-title").inner_text() == TITLE
    assert row.get_by_test_id("row-initiator").inner_text() == UNIVERSITY
    assert row.get_by_test_id("row-progress").inner_text() == "0/4"
    shots(page, "employee-todo")
    pointer.press(row.get_by_test_id("row-preview"))  # 预览
    dialog = page.get_by_test_id("preview-dialog")
    dialog.wait_for(state="visible")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#lists-preview img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    assert dialog.locator("img").count() == 1
    shots(page, "employee-preview", screen=True)
    pointer.press(dialog.locator("[data-preview-sign]"))  # 签署
    page.wait_for_url(f"**/envelopes/{envelope.uuid}/sign/")
    scenario.open_document(page, pointer, envelope, shots, "employee")

    saved_before = w.employee.signatures.count()
    scenario.stamp(
        page, pointer, draw=True, shot=shots, name="employee"
    )  # 一键盖章 → 重新采集 → 使用签名
    drawn = page.locator(".sg-field.sg-kind-signature.is-filled img")
    assert drawn.get_attribute("src").startswith("data:image/png;base64,")
    assert page.locator(".sg-field.sg-kind-date.is-filled").count() == 1
    # the text is still to do: 提交签署 says so and goes to it
    pointer.press(page.get_by_test_id("sign-submit"))
    page.locator("#sg-toast").filter(has_text="还有 1 处未签署").wait_for()
    assert page.get_by_test_id("dialog-finish").is_hidden()
    scenario.fill_text(page, OPINION)
    assert scenario.all_mine_filled(page) == 3
    page.locator(".sg-field.sg-kind-text").scroll_into_view_if_needed()
    shots(page, "employee-stamped", screen=True)
    scenario.submit_with_pin(page, pointer, shots, "employee")
    assert "已签署，等待下一位签署方" in page.get_by_test_id("sign-done-title").inner_text()
    shots(page, "employee-done")
    assert w.employee.signatures.count() == saved_before  # drawn for this signing only
    text = Field.objects.get(recipient__envelope=envelope, kind="text")
    assert text.value == OPINION and text.filled_at is not None


def _head(page: Any, w: World, envelope: Envelope, shots: Any) -> None:
    """艾震: the SMS link → 签署 → 一键盖章 → 是."""
    pointer = Pointer(page, touch=page.viewport_size["width"] < 500)
    scenario.login_from_sms_link(page, w.head.phone, shots, "head")
    scenario.open_document(page, pointer, envelope, shots, "head")
    scenario.stamp(page, pointer, saved=True, shot=shots, name="head")
    assert scenario.all_mine_filled(page) == 1
    page.locator(".sg-field.is-mine.is-filled").scroll_into_view_if_needed()
    shots(page, "head-stamped", screen=True)
    scenario.submit_with_pin(page, pointer, shots, "head")
    assert "已签署，等待下一位签署方" in page.get_by_test_id("sign-done-title").inner_text()


def _seal(
    page: Any, envelope: Envelope, seal: Seal, shots: Any, name: str, done_title: str
) -> None:
    """A keeper: 待我签署 → 签署 → 盖章 → 一键盖章 (their one seal that fits) → 提交签署."""
    pointer = Pointer(page, touch=page.viewport_size["width"] < 500)
    _from_todo_list(page, pointer, envelope, shots, name)
    scenario.open_document(page, pointer, envelope, shots, name)
    assert page.get_by_test_id("sign-open").first.inner_text().startswith("盖章")
    scenario.stamp(page, pointer, seal=seal)
    assert scenario.all_mine_filled(page) == 1
    page.locator(".sg-field.is-mine.is-filled").scroll_into_view_if_needed()
    shots(page, f"{name}-stamped", screen=True)
    scenario.submit_with_pin(page, pointer, shots, name)
    assert done_title in page.get_by_test_id("sign-done-title").inner_text()
    shots(page, f"{name}-done")


def test_annual_evaluation_form_signed_and_sealed(
    new_context: Any, shots: scenario.Shots, size: str, tmp_path: Path
) -> None:
    w = _world()
    hr = new_context("desktop").new_page()
    errors = scenario.watch(hr)
    envelope = _start(hr, w, tmp_path, shots)

    def party() -> Any:
        scenario.warm_page_images(envelope)
        page = new_context(size).new_page()
        errors.extend(scenario.watch(page))
        return page

    _employee(party(), w, envelope, shots)
    _head(party(), w, envelope, shots)
    keeper = party()
    login_by_sms(keeper, w.keeper.phone)
    _seal(
        keeper,
        envelope,
        scenario.seal_named(w.department, Seal.Kind.OFFICIAL),
        shots,
        "department",
        "已盖章，等待下一位签署方",
    )
    # HR seals last: at the same desktop, or on the phone (logged in there with the password)
    if size == "desktop":
        sealer = hr
        scenario.warm_page_images(envelope)
    else:
        sealer = party()
        scenario.login_with_password(sealer, w.hr.phone, HR_PASSWORD)
    _seal(
        sealer,
        envelope,
        scenario.seal_named(w.university, Seal.Kind.HR),
        shots,
        "hr-seal",
        "全部签署完成",
    )

    recipients = list(envelope.recipients.order_by("routing_order"))
    assert [r.status for r in recipients] == [Recipient.Status.DONE] * 4
    assert [r.acted_by for r in recipients] == [w.employee, w.head, w.keeper, w.hr]
    assert recipients[3].seal == scenario.seal_named(w.university, Seal.Kind.HR)

    scenario.wait_for_status(hr, f"/envelopes/{envelope.uuid}/", "已完成")
    shots(hr, "hr-completed")
    name, data = scenario.download(hr, "download-document")
    assert name == f"{TITLE}.pdf"
    report = scenario.check_final_pdf(data, tmp_path)
    signed = [s for s in report.signatures if s.kind == "signature"]
    # one signature per field: the employee's signature, date and text, then the head's
    assert [s.signer_name for s in signed if not s.organisation] == ["何建宇"] * 3 + ["艾震"]
    assert [s.organisation for s in signed if s.organisation] == [DEPARTMENT, UNIVERSITY]
    assert "人事专用章" in signed[-1].signer_name
    shots.pdf_page(data, 0, "signed-form")  # the opinion is drawn in its field's appearance
    name, data = scenario.download(hr, "download-report")
    scenario.check_final_pdf(data, tmp_path, lta_validation=False)
    assert TITLE in scenario.pdf_text(data, tmp_path)
    assert errors == []


# --- 拒签 -----------------------------------------------------------------------------------------


def _sent_form(w: World, title: str) -> Envelope:
    """An evaluation task sent by HR for the university (through the core, off the loop)."""
    envelope = compose_actions.do_create_draft(title=title, org=w.university, actor=w.hr, meta=TASK)
    document = compose_actions.do_add_document(
        envelope,
        scenario.make_evaluation_form("何建宇", "创业学院", 2023),
        f"{title}.pdf",
        actor=w.hr,
        meta=TASK,
    )
    Input = compose.RecipientInput
    employee, head, _department, university = compose_actions.do_set_recipients(
        envelope,
        [
            Input(role="sign", routing_order=1, name="何建宇", phone=w.employee.phone),
            Input(role="sign", routing_order=2, name="艾震", phone=w.head.phone),
            Input(
                role="seal",
                routing_order=3,
                name=DEPARTMENT,
                phone=w.keeper.phone,
                contact_name="吴凯",
                org_uuid=str(w.department.uuid),
            ),
            Input(
                role="seal",
                routing_order=4,
                name=UNIVERSITY,
                phone=w.hr.phone,
                contact_name="孙丽",
                org_uuid=str(w.university.uuid),
            ),
        ],
        actor=w.hr,
    )
    spots = FORM_SPOTS
    compose_actions.do_set_fields(
        envelope,
        [
            field(
                document,
                employee,
                "signature",
                0,
                spot_rect(spots["employee_signature"], SIGNATURE_SIZE),
            ),
            field(document, employee, "text", 0, spot_rect(spots["employee_text"], TEXT_SIZE)),
            field(
                document, head, "signature", 0, spot_rect(spots["head_signature"], SIGNATURE_SIZE)
            ),
            field(document, university, "seal", 0, spot_rect(spots["hr_seal"], SEAL_SIZE)),
        ],
        actor=w.hr,
    )
    compose_actions.do_send_envelope(envelope, actor=w.hr, meta=TASK)
    envelope.refresh_from_db()
    return envelope


def test_employee_rejects_the_form_and_hr_sees_why(
    new_context: Any, shots: scenario.Shots, size: str
) -> None:
    w = _world()
    envelope = scenario.off_loop(_sent_form, w, "何建宇2023年年度考核表")
    reason = "考核年度应为2023年度，职称信息有误，请更正后重新发起。"
    scenario.warm_page_images(envelope)
    page = new_context(size).new_page()
    errors = scenario.watch(page)
    pointer = Pointer(page, touch=size == "phone")
    login_by_sms(page, w.employee.phone)
    _from_todo_list(page, pointer, envelope, shots, "employee")
    scenario.open_document(page, pointer, envelope, shots, "employee")

    pointer.press(page.get_by_test_id("sign-reject"))  # 拒签
    dialog = page.get_by_test_id("dialog-reject")
    dialog.wait_for()
    pointer.press(page.get_by_test_id("reject-submit"))  # no reason yet: said, and nothing sent
    error = page.get_by_test_id("reject-error")
    error.wait_for()
    assert error.inner_text() == "请填写拒签原因。"
    page.get_by_test_id("reject-reason").fill(reason)
    shots(page, "employee-reject", screen=True)
    pointer.press(page.get_by_test_id("reject-submit"))
    page.wait_for_url("**/sign/done/")
    assert page.get_by_test_id("sign-done-title").inner_text() == "已拒签"
    assert reason in page.get_by_test_id("sign-done").inner_text()
    shots(page, "employee-rejected")
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.REJECTED
    assert OutboxMessage.objects.filter(recipient=w.hr.phone, kind="envelope_rejected").exists()
    assert not OutboxMessage.objects.filter(recipient=w.head.phone).exists()  # never asked

    # HR: 已作废 lists it as 已拒签; the envelope page says who refused and why
    hr = new_context("desktop").new_page()
    errors += scenario.watch(hr)
    login_by_sms(hr, w.hr.phone)
    hr.goto("/envelopes/?tab=voided")
    row = hr.locator(f'[data-envelope="{envelope.uuid}"]')
    assert row.get_by_test_id("row-status").inner_text() == "已拒签"
    shots(hr, "hr-voided-list")
    row.get_by_test_id("row-view").click()
    hr.wait_for_url(f"**/envelopes/{envelope.uuid}/")
    assert hr.get_by_test_id("envelope-status").inner_text() == "已拒签"
    assert reason in hr.get_by_test_id("envelope-end-reason").inner_text()
    employee = hr.get_by_test_id("recipient").first
    assert employee.get_attribute("data-status") == "rejected"
    assert reason in employee.inner_text()
    shots(hr, "hr-rejected")
    assert errors == []
