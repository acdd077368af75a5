"""Seed 000's evaluation season (考核季) in the browser, at a reduced scale: one template,
a 50-row spreadsheet, five employees who sign, their department head and the HR office.

HR (孙丽 of 人事处, acting for 江城理工大学) has a draft evaluation form — made with the Python
compose actions (the field editor itself is played by test_scenario_evaluation.py): 被考核人
(signature and the 文本 自评), 部门负责人 (signature), 人事处 (the university's seal), and
four more 文本 fields of the employee: 姓名, 工号, 部门, 考核等次. In the browser HR opens
确认发起 → 保存为模板: names the roles, fixes 部门负责人 and 人事处, turns 姓名/工号/部门 into
text data fields and 考核等次 into a single choice (优秀/合格/基本合格/不合格); 自评 stays
the employee's. Then 批量发起: the template's XLSX downloaded from the page, filled with
openpyxl (the five real employees first, then 45 more who never sign), a copy with two bad rows
uploaded first (the check page names row and column), the good file uploaded (共 50 行：50 行
无误) and sent. Five employees open their SMS link, fill 自评 and sign with their PIN; the head
signs the five in one 批量签署; HR seals the five in one 批量签署 with the 人事专用章. The batch
page counts 已完成 5 and 签署中 45; its ZIP holds the five final PDFs, each with its row's 姓名,
工号, 部门 and 考核等次 as real text (pdftotext) under valid B-LTA signatures (our verifier,
pyHanko, pdfsig), and the employee's 自评 as real text too — the appearance of the employee's
own signature, wrapped to its box — that also shows as ink on the rendered page (the blank form
has none there).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from PIL import Image

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.envelopes import compose
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.geometry import SEAL_SIZE, SIGNATURE_SIZE, TEXT_SIZE
from qianshu.envelopes.models import Envelope, Field, Recipient
from qianshu.envelopes.views.documents import _RENDER_LOCK
from qianshu.orgs.models import Organization, Seal
from qianshu.pki.actions import do_init_pki
from qianshu.signing import stamps
from qianshu.signing.pages import render_page
from tests.browser import scenario
from tests.browser.flows import login_by_sms
from tests.browser.scenario import A4_H, A4_W, FORM_SPOTS, Pointer, spot_rect
from tests.support.personas import PIN

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UNIVERSITY = "江城理工大学"
TITLE = "2022年年度考核表"
TEMPLATE = "2022年度考核表"
GRADES = ["优秀", "合格", "基本合格", "不合格"]
ROWS = 50
#: The five who sign: (name, phone, 工号, 部门, 考核等次).
EMPLOYEES = [
    ("何建宇", "13900030001", "2015031", "创业学院", "优秀"),
    ("李静怡", "13900030002", "2016012", "创业学院", "合格"),
    ("王志强", "13900030003", "2012007", "创业学院", "合格"),
    ("陈晓梅", "13900030004", "2018044", "创业学院", "基本合格"),
    ("赵文博", "13900030005", "2019101", "创业学院", "优秀"),
]
#: Data field boxes (PDF points) on the blank form: 姓名 and 工号 in their table cells, 部门
#: after 单位名称：, 考核等次 after 2022年度考核等次： in the 考核结果 row.
DATA_BOXES = {
    "姓名": (114.0, 727.0, 172.0, 747.0),
    "工号": (114.0, 701.0, 172.0, 721.0),
    "部门": (102.0, 755.0, 300.0, 773.0),
    "考核等次": (225.0, 254.0, 325.0, 272.0),
}
SELF_REVIEW = "本人承诺所填写的内容真实有效，全年完成教学任务。"
REVIEW_BOX = spot_rect(FORM_SPOTS["employee_text"], TEXT_SIZE)


@pytest.fixture(autouse=True)
def _pki() -> None:
    do_init_pki(name="测试平台")


@dataclass
class World:
    hr: User  # 人事处: sends the season and seals for the university
    head: User  # 部门负责人 of 创业学院
    employees: list[User]
    university: Organization


def _world() -> World:
    hr = scenario.person("孙丽", "13900030100")
    head = scenario.person("艾震", "13900030101")
    employees = [scenario.person(name, phone) for name, phone, *_rest in EMPLOYEES]
    university = scenario.organisation(
        hr, UNIVERSITY, seals=[(Seal.Kind.HR, hr)], kind=Organization.Kind.INSTITUTION
    )
    return World(hr, head, employees, university)


def _draft(w: World) -> Envelope:
    """HR's draft for the university: the blank form, three parties, the fields."""
    envelope = compose_actions.do_create_draft(title=TITLE, org=w.university, actor=w.hr, meta=TASK)
    document = compose_actions.do_add_document(
        envelope,
        scenario.make_evaluation_form("", "", number=""),
        f"{TITLE}.pdf",
        actor=w.hr,
        meta=TASK,
    )
    Input = compose.RecipientInput
    first = w.employees[0]
    employee, head, university = compose_actions.do_set_recipients(
        envelope,
        [
            Input(role="sign", routing_order=1, name=EMPLOYEES[0][0], phone=first.phone),
            Input(role="sign", routing_order=2, name="艾震", phone=w.head.phone),
            Input(
                role="seal",
                routing_order=3,
                name=UNIVERSITY,
                phone=w.hr.phone,
                contact_name="孙丽",
                org_uuid=str(w.university.uuid),
            ),
        ],
        actor=w.hr,
    )

    def put(who: Recipient, kind: str, rect: Any, label: str = "") -> compose.FieldInput:
        return compose.FieldInput(
            recipient_id=who.pk,
            document_id=document.pk,
            kind=kind,
            page=0,
            rect=stamps.Rect(*rect),
            label=label,
        )

    spots = FORM_SPOTS
    compose_actions.do_set_fields(
        envelope,
        [
            put(employee, "signature", spot_rect(spots["employee_signature"], SIGNATURE_SIZE)),
            put(employee, "text", spot_rect(spots["employee_text"], TEXT_SIZE), "自评"),
            *(put(employee, "text", box, label) for label, box in DATA_BOXES.items()),
            put(head, "signature", spot_rect(spots["head_signature"], SIGNATURE_SIZE)),
            put(university, "seal", spot_rect(spots["hr_seal"], SEAL_SIZE)),
        ],
        actor=w.hr,
    )
    envelope.refresh_from_db()
    return envelope


# --- HR: 保存为模板 ----------------------------------------------------------------------------


def _save_template(page: Any, envelope: Envelope, shots: scenario.Shots) -> None:
    """确认发起 → 保存为模板: roles named, two fixed, four data fields, 自评 the signer's."""
    page.goto(f"/envelopes/{envelope.uuid}/send/")
    page.get_by_test_id("send-form").wait_for()
    assert page.get_by_test_id("summary-recipient").count() == 3
    page.get_by_test_id("send-save-template").click()
    form = page.get_by_test_id("template-save-form")
    form.wait_for()
    form.locator("input[name=name]").fill(TEMPLATE)
    roles = page.get_by_test_id("template-role")
    assert roles.count() == 3
    for index, (label, fixed) in enumerate(
        [("被考核人", False), ("部门负责人", True), ("人事处", True)]
    ):
        roles.nth(index).locator(f"input[name=label_{index}]").fill(label)
        roles.nth(index).locator(f"input[name=fixed_{index}]").set_checked(fixed)
    texts = page.get_by_test_id("template-text-field")
    assert texts.count() == 5
    for label in DATA_BOXES:
        item = texts.filter(has_text=f"{EMPLOYEES[0][0]} · {label}")
        item.locator("select[name$='-mode']").select_option("sender")
        item.locator("input[name$='-name']").fill(label)
        if label == "考核等次":
            item.locator("select[name$='-type']").select_option("choice")
            item.locator("input[name$='-choices']").fill("，".join(GRADES))
        else:
            item.locator("input[name$='-max_length']").fill("20")
    review = texts.filter(has_text=f"{EMPLOYEES[0][0]} · 自评")
    assert review.locator("select[name$='-mode']").input_value() == "signer"
    shots(page, "hr-save-template")
    page.get_by_test_id("template-save").click()
    page.get_by_text(f"已保存为模板“{TEMPLATE}”（第 1 版）。").wait_for()
    roles_text = page.get_by_test_id("template-roles").inner_text()
    assert "被考核人" in roles_text and "固定：艾震" in roles_text
    assert f"固定：{UNIVERSITY}" in roles_text
    fields_text = page.get_by_test_id("template-data-fields").inner_text()
    assert fields_text.splitlines() == [
        "姓名 *",
        "工号 *",
        "部门 *",
        f"考核等次 * （{'、'.join(GRADES)}）",
    ]
    shots(page, "hr-template")


# --- HR: 批量发起 --------------------------------------------------------------------------------


def _employee_rows() -> list[tuple[str, ...]]:
    """The five who sign, then 45 more (phones without accounts)."""
    surnames, given = "张刘杨黄周吴徐孙马", "伟芳娜敏静丽强磊洋"
    more = [
        (
            f"{surnames[i % 9]}{given[i // 9]}{given[(i + 4) % 9]}",
            f"139000{31000 + i}",
            f"20{20 + i % 5}{i:03d}",
            ["创业学院", "材料学院", "经济学院"][i % 3],
            GRADES[i % 3],
        )
        for i in range(ROWS - len(EMPLOYEES))
    ]
    return [*EMPLOYEES, *more]


def _filled(blank: bytes, rows: list[tuple[str, ...]]) -> bytes:
    """The downloaded spreadsheet (its header checked) filled in after the example row."""
    book = load_workbook(io.BytesIO(blank))
    sheet = book.active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    assert header == [
        "任务名称（可不填）",
        "被考核人-姓名",
        "被考核人-手机号",
        "被考核人-电子邮箱",
        "姓名",
        "工号",
        "部门",
        "考核等次",
    ]
    for name, phone, number, department, grade in rows:
        sheet.append([f"{name}{TITLE}", name, phone, "", name, number, department, grade])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _upload(page: Any, path: Path, total: int, valid: int) -> None:
    page.locator("#bulk-file").set_input_files(str(path))
    page.get_by_test_id("bulk-submit").click()
    summary = page.get_by_test_id("batch-summary")
    summary.wait_for()
    assert f"共 {total} 行：{valid} 行无误，{total - valid} 行有误。" in summary.inner_text()


def _bulk_send(page: Any, tmp_path: Path, shots: scenario.Shots) -> str:
    """模板管理 → 批量发起: the bad copy checked, the good file sent; the batch's number."""
    page.goto("/templates/")
    page.get_by_test_id("template-item").filter(has_text=TEMPLATE).get_by_test_id(
        "template-bulk"
    ).click()
    page.get_by_test_id("bulk-upload").wait_for()
    name, blank = scenario.download(page, "bulk-download")
    assert name == f"{TEMPLATE}-批量发起.xlsx"
    rows = _employee_rows()
    good = tmp_path / "考核季.xlsx"
    good.write_bytes(_filled(blank, rows))
    bad_rows = list(rows)
    bad_rows[6] = (*rows[6][:1], "1390003", *rows[6][2:])  # row 9: a short phone number
    bad_rows[9] = (*rows[9][:4], "良好")  # row 12: not one of the grades
    bad = tmp_path / "考核季-有误.xlsx"
    bad.write_bytes(_filled(blank, bad_rows))
    shots(page, "hr-bulk")

    _upload(page, bad, ROWS, ROWS - 2)
    problems = page.get_by_test_id("batch-problem").all_inner_texts()
    assert len(problems) == 2
    assert "第 9 行" in problems[0] and "被考核人-手机号：手机号格式不正确" in problems[0]
    assert "第 12 行" in problems[1] and "考核等次" in problems[1]
    assert "优秀、合格、基本合格、不合格" in problems[1]
    shots(page, "hr-check-bad")
    page.get_by_test_id("batch-cancel").click()
    page.get_by_test_id("batch-status").filter(has_text="已取消").wait_for()

    page.goto(page.locator(".compose-back a").get_attribute("href"))  # ← 批量发起
    _upload(page, good, ROWS, ROWS)
    assert not page.get_by_test_id("batch-problems").count()
    shots(page, "hr-check-good")
    send = page.get_by_test_id("batch-send")
    assert send.inner_text() == f"发起 {ROWS} 份签署任务"
    send.click(timeout=120_000)  # the test runs tasks inline: the 50 rows go out in this request
    # the page refreshes itself while the rows go out
    page.get_by_test_id("batch-status").filter(has_text="已完成").wait_for(timeout=120_000)
    summary = page.get_by_test_id("batch-summary").inner_text()
    assert f"已发起 {ROWS} 份，失败 0 份，共 {ROWS} 份。" in summary
    assert page.get_by_test_id("batch-count-in_progress").inner_text() == f"签署中：{ROWS}"
    shots(page, "hr-sent")
    return page.locator("h1").inner_text().removeprefix("批次 ").strip()


# --- the signers ---------------------------------------------------------------------------------


def _employee_signs(page: Any, user: User, envelope: Envelope, shots: Any) -> None:
    """The SMS link → 签署 → 一键盖章 (the saved signature) → 自评 → 提交签署 → PIN."""
    pointer = Pointer(page, touch=False)
    name = user.display_name
    scenario.login_from_sms_link(page, user.phone, shots, name)
    scenario.open_document(page, pointer, envelope, shots, name)
    scenario.stamp(page, pointer, saved=True)
    scenario.fill_text(page, SELF_REVIEW)
    assert scenario.all_mine_filled(page) == 2
    scenario.submit_with_pin(page, pointer, shots, name)
    assert "已签署，等待下一位签署方" in page.get_by_test_id("sign-done-title").inner_text()
    review = Field.objects.get(recipient__envelope=envelope, kind="text")
    assert review.value == SELF_REVIEW and review.filled_at is not None


def _batch_sign(page: Any, envelopes: list[Envelope], shots: scenario.Shots, name: str) -> None:
    """待我签署: tick the five, 批量签署, one PIN; every task 成功."""
    page.goto("/envelopes/?tab=todo")
    rows = page.get_by_test_id("list-row")
    rows.first.wait_for()
    assert rows.count() == len(envelopes)
    for envelope in envelopes:
        page.locator(f'[data-envelope="{envelope.uuid}"]').get_by_test_id("row-check").check()
    page.get_by_test_id("batch-sign").click()
    page.get_by_test_id("batch-page").wait_for()
    assert page.get_by_test_id("batch-task").count() == len(envelopes)
    assert not page.get_by_test_id("batch-skipped").count()
    page.get_by_test_id("batch-pin").fill(PIN)
    shots(page, f"{name}-batch")
    page.get_by_test_id("batch-submit").click()
    page.get_by_test_id("batch-result").wait_for(timeout=60_000)
    assert page.get_by_test_id("batch-ok-count").inner_text() == str(len(envelopes))
    shots(page, f"{name}-batch-done")


def _no_shots(page: Any, name: str, *, screen: bool = False) -> None:
    return None


# --- the season ----------------------------------------------------------------------------------


def _check_final(data: bytes, row: tuple[str, ...], tmp_path: Path) -> None:
    """The row's data as real text, under valid B-LTA signatures: the employee's signature and
    自评, the head's signature, the university's seal."""
    name, _phone, number, department, grade = row
    text = scenario.pdf_text(data, tmp_path)
    for value in (name, number, department, grade):
        assert value in text, (value, text)
    # 自评 is the text of its signature's appearance, wrapped in its box, and shows as ink
    assert "".join(scenario.pdf_text(data, tmp_path, REVIEW_BOX).split()) == SELF_REVIEW
    assert _ink(data, REVIEW_BOX) > 100
    report = scenario.check_final_pdf(data, tmp_path)
    signed = [s for s in report.signatures if s.kind == "signature"]
    assert [s.signer_name for s in signed if not s.organisation] == [name, name, "艾震"]
    assert [s.organisation for s in signed if s.organisation] == [UNIVERSITY]


def test_evaluation_season_from_a_template_and_a_spreadsheet(
    new_context: Any, shots: scenario.Shots, tmp_path: Path
) -> None:
    w = _world()
    draft = scenario.off_loop(_draft, w)
    assert _ink(draft.documents.get().current.read(), REVIEW_BOX) == 0  # see _check_final
    hr = new_context("desktop").new_page()
    errors = scenario.watch(hr)
    login_by_sms(hr, w.hr.phone)
    scenario.act_for(hr, w.university)
    _save_template(hr, draft, shots)
    number = _bulk_send(hr, tmp_path, shots)

    sent = Envelope.objects.filter(template_use__batch__number=number)
    envelopes = [
        sent.get(recipients__routing_order=1, recipients__phone=u.phone) for u in w.employees
    ]
    assert [e.title for e in envelopes] == [f"{row[0]}{TITLE}" for row in EMPLOYEES]
    for index, (user, envelope) in enumerate(zip(w.employees, envelopes, strict=True)):
        scenario.warm_page_images(envelope)
        page = new_context("desktop").new_page()
        errors.extend(scenario.watch(page))
        # the screenshots of the first employee show the steps; the others do the same
        _employee_signs(page, user, envelope, shots if index == 0 else _no_shots)
        page.context.close()

    head = new_context("desktop").new_page()
    errors.extend(scenario.watch(head))
    login_by_sms(head, w.head.phone)
    _batch_sign(head, envelopes, shots, "head")
    _batch_sign(hr, envelopes, shots, "hr")  # the seal: 以“江城理工大学”盖章
    for envelope in envelopes:
        envelope.refresh_from_db()
        assert envelope.status == Envelope.Status.COMPLETED
        university = envelope.recipients.get(role=Recipient.Role.SEAL)
        assert university.seal == scenario.seal_named(w.university, Seal.Kind.HR)

    # the batch: 已完成 5, 签署中 45; the completed files in one ZIP
    hr.goto("/templates/")
    hr.get_by_test_id("template-item").first.get_by_test_id("template-bulk").click()
    hr.get_by_role("link", name=number).click()
    done = len(EMPLOYEES)
    assert hr.get_by_test_id("batch-count-completed").inner_text() == f"已完成：{done}"
    assert hr.get_by_test_id("batch-count-in_progress").inner_text() == f"签署中：{ROWS - done}"
    shots(hr, "hr-batch-progress")
    name, data = scenario.download(hr, "batch-download")
    assert name == f"{number}.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {
            item: archive.read(item)
            for item in archive.namelist()
            if item.endswith(".pdf") and "签署报告" not in item
        }
    assert sorted(files) == sorted(f"{e.number}/{TITLE}.pdf" for e in envelopes)
    for row, envelope in zip(EMPLOYEES, envelopes, strict=True):
        _check_final(files[f"{envelope.number}/{TITLE}.pdf"], row, tmp_path)
    shots.pdf_page(files[f"{envelopes[0].number}/{TITLE}.pdf"], 0, "signed-form")

    # 查看任务: the batch's envelopes still waiting for others
    hr.get_by_test_id("batch-list").click()
    hr.wait_for_url(f"**/envelopes/?tab=others&batch={number}")
    hr.get_by_text(f"共 {ROWS - done} 条").wait_for()
    shots(hr, "hr-batch-list")

    assert errors == []


def _ink(pdf: bytes, rect: tuple[float, float, float, float]) -> int:
    """Dark pixels of page 1 inside ``rect`` (PDF points), rendered 2 pixels a point."""
    scale = 2.0
    with _RENDER_LOCK:  # PDFium is not thread-safe; the live server renders page images too
        png = render_page(pdf, 0, width_px=round(A4_W * scale), fmt="png")
    x1, y1, x2, y2 = rect
    box = (x1 * scale, (A4_H - y2) * scale, x2 * scale, (A4_H - y1) * scale)
    grey = Image.open(io.BytesIO(png)).convert("L").crop(box)
    return sum(grey.histogram()[:128])
