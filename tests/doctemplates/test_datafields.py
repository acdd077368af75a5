"""Data fields (数据字段, issue 14): text fields of a draft become fields the sender fills when
the template is used — on the form, in the spreadsheet and through the API — written into the
document as real PDF text (pdftotext reads it back) before it is sent, so the signatures cover
it; every bad value is refused naming its field, and nothing is created then."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, TestCase
from openpyxl import load_workbook

from qianshu.api.actions.keys import do_create_api_key
from qianshu.api.models import Scope
from qianshu.core.meta import TASK
from qianshu.doctemplates import bulk
from qianshu.doctemplates.actions.bulk import do_import_batch
from qianshu.doctemplates.actions.templates import do_save_template, do_use_template
from qianshu.doctemplates.datafields import DataError
from qianshu.doctemplates.snapshots import Party, RoleChoice
from qianshu.envelopes import turns
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions import turns as turns_actions
from qianshu.envelopes.models import Envelope, Field
from qianshu.orgs.models import Membership
from qianshu.pki.actions import do_init_pki
from qianshu.pki.platform import load_platform
from qianshu.signing.verify import verify_pdf
from tests.browser.scenario import pdf_text
from tests.envelopes.helpers import Builder, field, seen
from tests.identity.helpers import logged_in
from tests.support.personas import PIN, make_signer, make_verified_org, real_name

pytestmark = pytest.mark.django_db

HR = "北京千书大学"


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    """考核表: 被考核人 (open) signs and fills 自评; the sender fills 工号 and 考核等次."""
    do_init_pki(name="测试平台")
    alice, bob = make_signer("alice"), make_signer("bob")
    org = make_verified_org(alice, name=HR)
    Membership.objects.create(org=org, user=bob, role=Membership.Role.MEMBER)
    draft = Builder().draft(alice, [("sign", 1, bob)], org=org, title="考核表", pages=1)
    document = draft.documents.get()
    person = draft.recipients.get()
    kept = [
        field(document, person, f.kind, f.page, (f.x1, f.y1, f.x2, f.y2))
        for f in Field.objects.filter(envelope=draft)
    ]
    texts = [
        field(document, person, "text", 0, (72, 700, 132, 724)),  # 工号 (a narrow box)
        field(document, person, "text", 0, (300, 700, 420, 724)),  # 考核等次
        field(document, person, "text", 0, (72, 640, 400, 664)),  # 自评, by the signer
    ]
    compose_actions.do_set_fields(draft, [*kept, *texts], actor=alice)
    number, grade, _own = Field.objects.filter(envelope=draft, kind="text").order_by("y2", "x1")
    number, grade = sorted([number, grade, _own], key=lambda f: (-f.y1, f.x1))[:2]
    version = do_save_template(
        draft,
        name="年度考核表",
        choices=[RoleChoice("被考核人", False)],
        data_fields={
            number.pk: {"name": "工号", "type": "text", "required": True, "max_length": 10},
            grade.pk: {"name": "考核等次", "type": "choice", "choices": "优秀，合格，不合格"},
        },
        actor=alice,
        meta=TASK,
    )
    return {"alice": alice, "bob": bob, "org": org, "version": version}


def test_values_are_text_in_the_pdf_under_valid_signatures(
    world: dict[str, Any], tmp_path: Path
) -> None:
    version = world["version"]
    assert [f["name"] for f in version.data_fields] == ["工号", "考核等次"]
    assert [f["kind"] for f in version.fields].count("text") == 1  # 自评 stays the signer's
    bob = world["bob"]
    alice = logged_in(world["alice"])
    page = alice.get(f"/templates/{version.template.uuid}/use/").content.decode()
    assert "工号" in page and "优秀" in page
    used = alice.post(
        f"/templates/{version.template.uuid}/use/",
        {
            "title": "考核表",
            "r1-name": real_name(bob),
            "r1-phone": bob.phone,
            "data-0": "HR-0042",
            "data-1": "优秀",
        },
    )
    assert used.status_code == 302, used.content.decode()[:3000]
    envelope = Envelope.objects.filter(status="draft").latest("id")
    text = pdf_text(envelope.documents.get().current.read(), tmp_path)
    assert "HR-0042" in text and "优秀" in text
    with TestCase.captureOnCommitCallbacks(execute=True):
        compose_actions.do_send_envelope(envelope, actor=world["alice"], meta=TASK)
    recipient = envelope.recipients.get()
    staged = [
        turns.StagedField(
            field_id=f.pk, value="本年度按期完成教学任务。" if f.kind == "text" else ""
        )
        for f in recipient.fields.all()
    ]
    request = turns.SignRequest(key="self-review", seen=seen(envelope), fields=staged)
    with TestCase.captureOnCommitCallbacks(execute=True):
        turns_actions.do_sign(recipient, request, pin=PIN, actor=bob, meta=TASK)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    final = envelope.documents.get().current.read()
    assert "HR-0042" in pdf_text(final, tmp_path)
    report = verify_pdf(final, load_platform().trust())
    assert report.verdict == "valid", report.reason
    assert all(s.intact and s.valid for s in report.signatures)


def test_bad_values_are_named_and_nothing_is_created(world: dict[str, Any]) -> None:
    version = world["version"]
    party = {"r1": Party(real_name(world["bob"]), world["bob"].phone)}
    before = Envelope.objects.count()
    cases = [
        ({"考核等次": "优秀"}, "请填写“工号”"),
        ({"工号": "HR-0042", "考核等次": "良好"}, "“考核等次”只能是：优秀、合格、不合格"),
        ({"工号": "12345678901"}, "“工号”最多 10 个字"),
        ({"工号": "宽" * 10}, "“工号”的内容太长"),  # within 10 characters, too wide for its box
        ({"工号": "A1", "部门": "人事处"}, "模板中没有数据字段：部门"),
    ]
    for data, message in cases:
        with pytest.raises(DataError, match=message):
            do_use_template(version, party, data=data, actor=world["alice"], meta=TASK)
    assert Envelope.objects.count() == before


def test_the_api_fills_data_by_name(world: dict[str, Any], tmp_path: Path) -> None:
    _key, plain = do_create_api_key(
        world["org"], name="HR", scopes=list(Scope.values), actor=world["alice"], meta=TASK
    )
    api = Client(HTTP_AUTHORIZATION=f"Bearer {plain}")
    bob = world["bob"]
    body = {
        "template": str(world["version"].template.uuid),
        "roles": {"被考核人": {"name": real_name(bob), "phone": bob.phone}},
        "data": {"工号": "HR-7", "考核等次": "合格"},
        "send": False,
    }
    created = api.post("/api/v1/envelopes", body, content_type="application/json")
    assert created.status_code == 201, created.content
    envelope = Envelope.objects.get(uuid=json.loads(created.content)["id"])
    assert "HR-7" in pdf_text(envelope.documents.get().current.read(), tmp_path)
    wrong = api.post(
        "/api/v1/envelopes",
        {**body, "data": {"工号": "HR-7", "考核等次": "良好"}},
        content_type="application/json",
    )
    assert wrong.status_code == 400
    problem = json.loads(wrong.content)
    assert problem["code"] == "invalid_data" and problem["field"] == "考核等次"


def test_the_spreadsheet_has_data_columns_checked_per_row(
    world: dict[str, Any], tmp_path: Path
) -> None:
    version = world["version"]
    cols = bulk.columns(version.roles, version.data_fields)
    assert [c.header for c in cols][-2:] == ["工号", "考核等次"]
    book = load_workbook(io.BytesIO(bulk.workbook(version.roles, "考核", version.data_fields)))
    sheet = book.active
    assert sheet is not None
    lists = [r for r in sheet.data_validations.dataValidation if r.type == "list"]
    assert [r.formula1 for r in lists] == ['"优秀,合格,不合格"']
    rows = [
        ["", "员工甲", "13900001111", "", "A-1", "优秀"],
        ["", "员工乙", "13900002222", "", "", "合格"],  # 工号 missing
        ["", "员工丙", "13900003333", "", "A-3", "良好"],  # unknown choice
        ["", "员工丁", "13900004444", "", "宽" * 10, "合格"],  # too wide for its box
    ]
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    batch = do_import_batch(version, out.getvalue(), "考核.xlsx", actor=world["alice"])
    problems = {r.row_number: r.problems for r in batch.rows.all()}
    assert problems[3] == []
    assert problems[4] == ["请填写“工号”。"]
    assert problems[5] == ["“考核等次”只能是：优秀、合格、不合格"]
    assert problems[6] == ["“工号”的内容太长，填写位置放不下，请精简内容。"]
    from qianshu.doctemplates.actions.bulk import do_start_batch, send_batch_rows

    do_start_batch(batch, actor=world["alice"])
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert send_batch_rows(batch.pk, meta=TASK) == 1
    sent = Envelope.objects.get(template_use__batch=batch)
    assert "A-1" in pdf_text(sent.documents.get().current.read(), tmp_path)


def test_the_save_page_turns_a_text_field_into_a_data_field(world: dict[str, Any]) -> None:
    alice, bob = world["alice"], world["bob"]
    draft = Builder().draft(alice, [("sign", 1, bob)], title="聘书", pages=1)
    document, person = draft.documents.get(), draft.recipients.get()
    kept = [
        field(document, person, f.kind, f.page, (f.x1, f.y1, f.x2, f.y2))
        for f in Field.objects.filter(envelope=draft)
    ]
    compose_actions.do_set_fields(
        draft, [*kept, field(document, person, "text", 0, (72, 700, 300, 724))], actor=alice
    )
    text = Field.objects.get(envelope=draft, kind="text")
    client = logged_in(alice)
    page = client.get(f"/templates/save/{draft.uuid}/").content.decode()
    assert "发起方填写（数据字段）" in page
    post = {
        "target": "",
        "name": "聘书",
        "label_0": "受聘人",
        f"df{text.pk}-mode": "sender",
        f"df{text.pk}-name": "聘期",
        f"df{text.pk}-type": "choice",
        f"df{text.pk}-required": "on",
        f"df{text.pk}-choices": "",
    }
    refused = client.post(f"/templates/save/{draft.uuid}/", post)
    assert refused.status_code == 400 and "需要填写选项" in refused.content.decode()
    saved = client.post(
        f"/templates/save/{draft.uuid}/", {**post, f"df{text.pk}-choices": "一年, 三年"}
    )
    assert saved.status_code == 302
    version = draft.initiator.doc_templates.get(name="聘书").latest()
    assert version.data_fields[0]["choices"] == ["一年", "三年"]
    assert all(f["kind"] != "text" for f in version.fields)


def test_a_value_written_like_pdf_syntax_stays_text(world: dict[str, Any], tmp_path: Path) -> None:
    """A hostile value that reads as PDF operators is drawn as the characters it is (glyph ids
    in a hex string), never interpreted: pdftotext gives it back and the page has nothing else
    new."""
    version = world["version"]
    party = {"r1": Party(real_name(world["bob"]), world["bob"].phone)}
    hostile = ")Tj(X)\\ET"
    envelope = do_use_template(
        version, party, data={"工号": hostile}, actor=world["alice"], meta=TASK
    )
    text = pdf_text(envelope.documents.get().current.read(), tmp_path)
    assert hostile in text
    blank = pdf_text(version.documents.get().blob.read(), tmp_path)
    assert text.replace(hostile, "").split() == blank.split()
