"""发起签署 through the views: step 1 (basics, files, recipients), the field editor's JSON,
确认发起, 草稿箱 — and every kind of bad input giving a clear message without losing what was
typed."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.envelopes.compose_forms import BEIJING
from qianshu.envelopes.geometry import to_pdf
from qianshu.envelopes.models import Document, Envelope, Field, Recipient
from qianshu.notifications.models import OutboxMessage
from qianshu.orgs.context import SESSION_KEY
from qianshu.signing.samples import make_test_pdf
from tests.support.pdfs import make_encrypted_pdf
from tests.support.personas import make_verified_org, real_name

pytestmark = pytest.mark.django_db

NEW = "/envelopes/new/"


def pdf_upload(name: str = "采购合同.pdf", pages: int = 2) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, make_test_pdf(pages=pages), content_type="application/pdf")


def rows(*items: dict[str, Any]) -> dict[str, Any]:
    """The recipient formset's POST data for ``items`` (role, order, name, phone, …)."""
    data: dict[str, Any] = {
        "r-TOTAL_FORMS": str(len(items)),
        "r-INITIAL_FORMS": "0",
        "r-MIN_NUM_FORMS": "0",
        "r-MAX_NUM_FORMS": "1000",
    }
    for i, item in enumerate(items):
        values = {"role": "sign", "routing_order": i + 1, **item}
        for key, value in values.items():
            data[f"r-{i}-{key}"] = "" if value is None else str(value)
    return data


def person(user: User, order: int = 1, role: str = "sign") -> dict[str, Any]:
    return {"role": role, "routing_order": order, "name": real_name(user), "phone": user.phone}


def basics(title: str = "办公设备采购合同", **extra: Any) -> dict[str, Any]:
    return {"title": title, "message": "请于本周内签署", "auto_remind": "on", **extra}


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_text(response: Any) -> str:
    return response.content.decode()


def editor_config(response: Any) -> dict[str, Any]:
    match = re.search(
        r'<script id="field-editor-data" type="application/json">(.*?)</script>',
        page_text(response),
        re.S,
    )
    assert match, "no editor data on the page"
    return json.loads(match.group(1))


def post_fields(client: Client, envelope: Envelope, fields: list[dict[str, Any]] | str) -> Any:
    body = fields if isinstance(fields, str) else json.dumps({"fields": fields})
    return client.post(
        reverse("envelopes:fields", args=[envelope.uuid]), body, content_type="application/json"
    )


def spot(
    recipient: Recipient, document: Document, kind: str, page: int = 0, **where: Any
) -> dict[str, Any]:
    values = {"left": 0.1, "top": 0.7, "width": 0.2, "height": 0.06, "label": ""}
    values.update(where)
    return {
        "recipient": recipient.pk,
        "document": document.pk,
        "kind": kind,
        "page": page,
        **values,
    }


# --- the whole flow ------------------------------------------------------------------------


def test_compose_upload_recipients_fields_and_send(people: dict, seal_org: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    org = seal_org(charlie, "厦门某某供应链有限公司")
    client = login(alice)
    assert client.get(NEW).status_code == 200

    deadline = (timezone.now() + dt.timedelta(days=7)).astimezone(BEIJING)
    data = {
        **basics(deadline=deadline.strftime("%Y-%m-%dT%H:%M")),
        **rows(
            person(bob, 1),
            {
                "role": "seal",
                "routing_order": 2,
                "name": org.name,
                "org": str(org.uuid),  # chosen in the organisation search
                "contact_name": "张查理",
                "phone": charlie.phone,
                "required_seal_kind": "contract",
            },
        ),
        "files": [pdf_upload()],
        "action": "next",
    }
    response = client.post(NEW, data)
    envelope = Envelope.objects.get(initiator=alice)
    assert response.status_code == 302
    assert response["Location"] == reverse("envelopes:fields", args=[envelope.uuid])
    assert envelope.is_draft() and envelope.title == "办公设备采购合同"
    assert envelope.message == "请于本周内签署" and envelope.auto_remind
    assert envelope.deadline is not None
    assert abs((envelope.deadline - deadline).total_seconds()) < 60
    document = envelope.documents.get()
    assert document.name == "采购合同.pdf" and document.page_count == 2
    signer, sealer = envelope.recipients.order_by("routing_order")
    assert (signer.role, signer.name, signer.phone) == ("sign", real_name(bob), bob.phone)
    assert (sealer.role, sealer.contact_name, sealer.required_seal_kind) == (
        "seal",
        "张查理",
        "contract",
    )
    assert (sealer.org, sealer.name, sealer.org_credit_code) == (org, org.name, org.credit_code)

    # step 2: the editor page, then the JSON save
    response = client.get(reverse("envelopes:fields", args=[envelope.uuid]))
    assert response.status_code == 200
    config = editor_config(response)
    assert [r["id"] for r in config["recipients"]] == [signer.pk, sealer.pk]
    assert config["recipients"][0]["kinds"] == ["signature", "date", "text"]
    assert config["recipients"][1]["kinds"] == ["seal", "cross_page_seal", "date"]
    assert config["fields"] == []
    page_url = reverse("envelopes:page-image", args=[envelope.uuid, document.pk, 1])
    assert f"{page_url}?w=800&amp;r={document.current_id}" in page_text(response)
    assert 'loading="lazy"' in page_text(response)

    placed = [
        spot(signer, document, "signature", page=1, left=0.1, top=0.75, width=0.2, height=0.057),
        spot(signer, document, "date", page=1, left=0.1, top=0.82, width=0.185, height=0.026),
        spot(sealer, document, "seal", page=1, left=0.6, top=0.7, width=0.2, height=0.1414),
        {
            "recipient": sealer.pk,
            "document": document.pk,
            "kind": "cross_page_seal",
            "page": 0,
            "pages": [0, 1],
            "left": 0.9,
            "top": 0.4,
            "width": 0.2,
            "height": 0.1414,
        },
    ]
    response = post_fields(client, envelope, placed)
    assert response.status_code == 200, response.content
    assert response.json()["ok"] is True and response.json()["count"] == 4
    box = document.boxes()[1]
    signature = Field.objects.get(envelope=envelope, kind="signature")
    expected = to_pdf(box, 0.1, 0.75, 0.2, 0.057)
    assert signature.page == 1
    assert (signature.x1, signature.y1, signature.x2, signature.y2) == pytest.approx(
        (expected.x1, expected.y1, expected.x2, expected.y2)
    )
    cross = Field.objects.get(envelope=envelope, kind="cross_page_seal")
    assert cross.pages == [0, 1]
    assert cross.x2 == pytest.approx(box.x2)  # on the right page edge
    assert cross.y2 - cross.y1 == pytest.approx(0.1414 * box.height)

    # the editor loads them back as it placed them
    config = editor_config(client.get(reverse("envelopes:fields", args=[envelope.uuid])))
    loaded = {f["kind"]: f for f in config["fields"]}
    assert loaded["signature"]["page"] == 1
    assert loaded["signature"]["left"] == pytest.approx(0.1, abs=1e-5)
    assert loaded["signature"]["top"] == pytest.approx(0.75, abs=1e-5)
    assert loaded["cross_page_seal"]["pages"] == [0, 1]
    assert loaded["cross_page_seal"]["top"] == pytest.approx(0.4, abs=1e-5)

    # step 3: the summary, then 发起签署
    response = client.get(reverse("envelopes:send", args=[envelope.uuid]))
    assert response.status_code == 200
    text = page_text(response)
    assert "办公设备采购合同" in text and "采购合同.pdf" in text and org.name in text
    assert "合同专用章" in text
    response = client.post(reverse("envelopes:send", args=[envelope.uuid]))
    assert response.status_code == 302
    assert response["Location"] == reverse("envelopes:detail", args=[envelope.uuid])
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["已发起，已通知第一位签署方。"]
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.IN_PROGRESS
    signer.refresh_from_db()
    sealer.refresh_from_db()
    assert (signer.status, sealer.status) == ("pending", "waiting")
    assert OutboxMessage.objects.filter(recipient=bob.phone, kind="envelope_sign_request").exists()
    assert not OutboxMessage.objects.filter(
        recipient=charlie.phone, kind="envelope_sign_request"
    ).exists()


def test_edit_shows_the_draft_and_keeps_recipient_fields(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = build.draft(alice, [("sign", 1, bob)])
    recipient = envelope.recipients.get()
    client = login(alice)
    response = client.get(reverse("envelopes:edit", args=[envelope.uuid]))
    text = page_text(response)
    assert response.status_code == 200
    assert envelope.title in text and real_name(bob) in text and bob.phone in text
    assert "合同1.pdf" in text

    # saving the same recipient (its id posted back) keeps it and its fields
    data = {
        **basics("采购合同（修订）"),
        **rows({**person(bob), "rid": recipient.pk}, {"name": "", "phone": ""}),
        "action": "save",
    }
    response = client.post(reverse("envelopes:edit", args=[envelope.uuid]), data)
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["草稿已保存。"]
    envelope.refresh_from_db()
    assert envelope.title == "采购合同（修订）"
    assert list(envelope.recipients.values_list("pk", flat=True)) == [recipient.pk]
    assert recipient.fields.count() == 2  # signature and date of the builder


def test_title_defaults_to_the_first_file_name(people: dict) -> None:
    client = login(people["alice"])
    response = client.post(
        NEW, {**basics(""), **rows(), "files": [pdf_upload("租赁合同.pdf")], "action": "upload"}
    )
    envelope = Envelope.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("envelopes:edit", args=[envelope.uuid]) + "#documents"
    assert envelope.title == "租赁合同"
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["已上传 1 份文件。"]


def test_no_title_and_no_file_creates_nothing(people: dict) -> None:
    client = login(people["alice"])
    response = client.post(NEW, {**basics(""), **rows(person(people["bob"])), "action": "save"})
    assert response.status_code == 400
    assert "请输入任务名称，或先上传签署文件。" in page_text(response)
    assert real_name(people["bob"]) in page_text(response)  # the row is still there
    assert not Envelope.objects.exists()


def test_acting_for_an_organisation_makes_it_the_initiator(people: dict) -> None:
    alice = people["alice"]
    org = make_verified_org(alice, name="北京千书科技有限公司")
    client = login(alice)
    session = client.session
    session[SESSION_KEY] = str(org.uuid)
    session.save()
    response = client.get(NEW)
    assert "北京千书科技有限公司" in page_text(response)
    client.post(NEW, {**basics(), **rows(person(people["bob"])), "action": "save"})
    envelope = Envelope.objects.get()
    assert envelope.initiator_org == org
    response = client.get(reverse("envelopes:edit", args=[envelope.uuid]))
    assert "北京千书科技有限公司" in page_text(response)


def test_remove_a_document_keeps_the_typed_input(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = build.draft(alice, [("sign", 1, bob)], documents=2, fields=False)
    first, second = envelope.documents.order_by("position")
    client = login(alice)
    data = {**basics("新的名称"), **rows(person(bob)), "remove_document": str(first.pk)}
    response = client.post(reverse("envelopes:edit", args=[envelope.uuid]), data)
    assert response.status_code == 302
    assert list(envelope.documents.values_list("pk", flat=True)) == [second.pk]
    envelope.refresh_from_db()
    assert envelope.title == "新的名称"
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["已删除文件“合同1.pdf”。"]


# --- bad input: a clear message, nothing lost ----------------------------------------------


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("说明.txt", "这不是 PDF".encode(), "text/plain"), "不是 PDF 文件"),
        (
            SimpleUploadedFile("合同.pdf", b"MZ\x90\x00\x03" + b"\x00" * 400, "application/pdf"),
            "不是 PDF 文件",
        ),
        (
            SimpleUploadedFile("空白.pdf", b"", "application/pdf"),
            "“空白.pdf”是空文件，请重新选择。",
        ),
        (
            SimpleUploadedFile(
                "加密.pdf", make_encrypted_pdf(user_password="secret"), "application/pdf"
            ),
            "有密码保护",
        ),
    ],
    ids=["text-file", "exe-renamed-pdf", "empty", "encrypted"],
)
def test_a_bad_upload_says_why_and_keeps_everything_else(
    people: dict, upload: SimpleUploadedFile, message: str
) -> None:
    bob = people["bob"]
    client = login(people["alice"])
    data = {**basics(), **rows(person(bob)), "files": [upload, pdf_upload()], "action": "next"}
    response = client.post(NEW, data)
    assert response.status_code == 400
    text = page_text(response)
    assert message in text
    envelope = Envelope.objects.get()
    # the draft keeps the title, the good file and the recipient; the page points at the draft
    assert envelope.title == "办公设备采购合同"
    assert list(envelope.documents.values_list("name", flat=True)) == ["采购合同.pdf"]
    recipient = envelope.recipients.get()
    assert recipient.phone == bob.phone
    assert f'name="r-0-rid" value="{recipient.pk}"' in text  # a resubmit keeps the same row
    assert f'action="{reverse("envelopes:edit", args=[envelope.uuid])}"' in text
    assert "办公设备采购合同" in text and real_name(bob) in text


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"name": "李博文", "phone": "1380000"}, "手机号码不正确，请输入 11 位手机号。"),
        ({"name": "李博文", "phone": "", "email": ""}, "请填写手机号或电子邮箱。"),
        ({"name": "李博文", "phone": "", "email": "not-an-email"}, "电子邮箱不正确。"),
        ({"name": "", "phone": "13900000001"}, "请输入姓名。"),
        ({"role": "seal", "name": "某某公司", "phone": "13900000001"}, "请输入联系人姓名。"),
        (
            {
                "role": "seal",
                "name": "某某公司",
                "contact_name": "王",
                "phone": "13900000001",
                "org_credit_code": "123",
            },
            "统一社会信用代码应为 18 位，您输入了 3 位。",
        ),
        (
            {"role": "seal", "name": "某某公司", "contact_name": "王", "phone": "13900000001"},
            "请输入统一社会信用代码。",
        ),
        (
            {
                "role": "seal",
                "name": "某某公司",
                "contact_name": "王",
                "phone": "13900000001",
                "org_credit_code": "91110108MA01D3ME70",
            },
            "统一社会信用代码校验位不正确，请核对。",
        ),
        (
            {"name": "李博文", "phone": "13900000001", "routing_order": "abc"},
            "签署顺序应为 1–99 的数字。",
        ),
        ({"role": "boss", "name": "李博文", "phone": "13900000001"}, "请选择签署方类型。"),
    ],
    ids=[
        "bad-phone",
        "no-contact",
        "bad-email",
        "no-name",
        "no-contact-person",
        "credit-code",
        "no-credit-code",
        "credit-code-check-digit",
        "order",
        "role",
    ],
)
def test_a_bad_recipient_row_says_why_and_keeps_the_rest(
    people: dict, row: dict[str, Any], message: str
) -> None:
    client = login(people["alice"])
    good = person(people["bob"])
    data = {**basics(), **rows(good, row), "files": [pdf_upload()], "action": "save"}
    response = client.post(NEW, data)
    assert response.status_code == 400
    text = page_text(response)
    assert message in text
    assert "has-error" in text
    envelope = Envelope.objects.get()
    assert envelope.documents.count() == 1  # the file is kept on the draft
    assert not envelope.recipients.exists()  # rows are saved together, once all are right
    assert real_name(people["bob"]) in text  # what was typed is still on the page
    if row.get("name"):
        assert row["name"] in text


def test_a_deadline_in_the_past_is_refused_and_nothing_else_is_lost(people: dict) -> None:
    client = login(people["alice"])
    past = (timezone.now() - dt.timedelta(hours=2)).astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")
    data = {
        **basics(deadline=past),
        **rows(person(people["bob"])),
        "files": [pdf_upload()],
        "action": "next",
    }
    response = client.post(NEW, data)
    assert response.status_code == 400
    text = page_text(response)
    assert "签署截止时间必须晚于现在。" in text
    assert past in text  # the value typed is shown again to be corrected
    envelope = Envelope.objects.get()
    assert envelope.deadline is None
    assert envelope.documents.count() == 1 and envelope.recipients.count() == 1
    # a garbled value too
    response = client.post(
        reverse("envelopes:edit", args=[envelope.uuid]),
        {**basics(deadline="明天"), **rows(person(people["bob"]))},
    )
    assert response.status_code == 400 and "请输入正确的日期和时间。" in page_text(response)


def test_next_needs_a_document_and_a_recipient(people: dict) -> None:
    client = login(people["alice"])
    response = client.post(NEW, {**basics(), **rows(), "action": "next"})
    assert response.status_code == 400
    text = page_text(response)
    assert "请至少上传一份文件。" in text and "请至少添加一个签署方（抄送人不算）。" in text
    envelope = Envelope.objects.get()
    response = client.get(reverse("envelopes:fields", args=[envelope.uuid]))
    assert response.status_code == 302  # no document yet: back to step 1
    assert response["Location"].endswith("#documents")


@pytest.fixture
def draft(people: dict, seal_org: Any, build: Any) -> Envelope:
    org = seal_org(people["charlie"], "厦门某某供应链有限公司")
    return build.draft(
        people["alice"], [("sign", 1, people["bob"]), ("seal", 2, org)], fields=False
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"left": 0.9, "width": 0.3},
            "第 1 页“李博文”的签名：签署位置超出了页面范围，或太小。",
        ),
        ({"top": -0.5}, "签署位置超出了页面范围，或太小。"),
        ({"width": 0.001}, "签署位置超出了页面范围，或太小。"),
        ({"kind": "seal"}, "“李博文”不能有“印章”。"),
        ({"kind": "checkbox"}, "“李博文”不能有“checkbox”。"),
        ({"page": 7}, "签署位置的页码超出了文件页数。"),
        ({"recipient": 999999}, "签署位置对应的签署方或文件不存在，请刷新页面。"),
        ({"document": 999999}, "签署位置对应的签署方或文件不存在，请刷新页面。"),
        ({"left": "abc"}, "数据格式不正确，请刷新页面后重试。"),
        ({"page": "1"}, "数据格式不正确，请刷新页面后重试。"),
        ({"kind": "cross_page_seal", "pages": [0]}, "骑缝章至少需要跨两页。"),
    ],
    ids=[
        "off-right",
        "off-top",
        "too-small",
        "kind-for-role",
        "unknown-kind",
        "page",
        "recipient",
        "document",
        "not-a-number",
        "page-as-text",
        "cross-one-page",
    ],
)
def test_a_bad_field_gets_a_message_and_saves_nothing(
    people: dict, draft: Envelope, change: dict[str, Any], message: str
) -> None:
    client = login(people["alice"])
    signer = draft.recipients.get(role="sign")
    document = draft.documents.get()
    good = spot(signer, document, "signature")
    bad = {**spot(signer, document, "signature"), **change}
    if change.get("kind") == "cross_page_seal":
        bad["recipient"] = draft.recipients.get(role="seal").pk
    response = post_fields(client, draft, [good, bad])
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False and message in body["message"]
    assert body["index"] == 1
    assert not Field.objects.filter(envelope=draft).exists()


@pytest.mark.parametrize(
    "body",
    ["{not json", "[]", '{"fields": "x"}', '{"fields": [1]}', "\udcff", '{"fields": [null]}'],
    ids=["broken", "list", "not-a-list", "number", "bad-utf8", "null"],
)
def test_malformed_json_is_a_400_with_a_message(people: dict, draft: Envelope, body: str) -> None:
    client = login(people["alice"])
    data = body.encode("utf-8", "surrogateescape")
    response = client.post(
        reverse("envelopes:fields", args=[draft.uuid]), data, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "message": "数据格式不正确，请刷新页面后重试。",
        "index": response.json()["index"],
    }


def test_saving_no_fields_clears_them(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = build.draft(alice, [("sign", 1, bob)])
    response = post_fields(login(alice), envelope, [])
    assert response.status_code == 200 and response.json()["count"] == 0
    assert not Field.objects.filter(envelope=envelope).exists()
    # recipients without fields place them while signing: the summary says so
    response = login(alice).get(reverse("envelopes:send", args=[envelope.uuid]))
    assert "签署时自行指定位置" in page_text(response)


def test_send_shows_what_is_missing(people: dict) -> None:
    alice = people["alice"]
    client = login(alice)
    client.post(NEW, {**basics(), **rows(), "action": "save"})
    envelope = Envelope.objects.get()
    response = client.get(reverse("envelopes:send", args=[envelope.uuid]))
    text = page_text(response)
    assert "请至少上传一份文件。" in text and "disabled" in text
    response = client.post(reverse("envelopes:send", args=[envelope.uuid]))
    assert response.status_code == 400
    assert "请至少上传一份文件。" in page_text(response)
    envelope.refresh_from_db()
    assert envelope.is_draft()


# --- who may do what --------------------------------------------------------------------------


def compose_urls(envelope: Envelope) -> list[str]:
    return [
        reverse(name, args=[envelope.uuid])
        for name in ("envelopes:edit", "envelopes:fields", "envelopes:send", "envelopes:delete")
    ]


def test_charlie_cannot_see_or_change_alices_draft(people: dict, draft: Envelope) -> None:
    charlie = login(people["charlie"])
    for url in compose_urls(draft):
        assert charlie.get(url).status_code in (404, 405), url
        assert charlie.post(url, {**basics("改掉"), **rows()}).status_code == 404, url
        response = charlie.post(url, json.dumps({"fields": []}), content_type="application/json")
        assert response.status_code == 404, url
    draft.refresh_from_db()
    assert draft.is_draft() and draft.title == "采购合同"
    assert draft.recipients.count() == 2
    assert "采购合同" not in page_text(charlie.get(reverse("envelopes:drafts")))


def test_anonymous_visitors_are_sent_to_log_in(draft: Envelope) -> None:
    client = Client()
    for url in [NEW, reverse("envelopes:drafts"), *compose_urls(draft)]:
        response = client.post(url) if url.endswith("/delete/") else client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_a_sent_envelope_can_no_longer_be_edited(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = build.draft(alice, [("sign", 1, bob)])
    client = login(alice)
    assert client.post(reverse("envelopes:send", args=[envelope.uuid])).status_code == 302
    detail = reverse("envelopes:detail", args=[envelope.uuid])
    for url in compose_urls(envelope)[:3]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == detail, url
    response = client.post(
        reverse("envelopes:edit", args=[envelope.uuid]), {**basics("改掉"), **rows()}
    )
    assert response.status_code == 302 and response["Location"] == detail
    response = post_fields(client, envelope, [])
    assert response.status_code == 409
    assert response.json()["message"] == "任务已发起，不能再修改签署位置。"
    response = client.post(reverse("envelopes:send", args=[envelope.uuid]))
    assert response.status_code == 302 and response["Location"] == detail
    response = client.post(reverse("envelopes:delete", args=[envelope.uuid]))
    assert response.status_code == 302 and response["Location"] == detail
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.IN_PROGRESS and envelope.title == "采购合同"
    assert Field.objects.filter(envelope=envelope).count() == 2
    assert envelope.documents.get().revision == 1  # prepared once


# --- 草稿箱 ------------------------------------------------------------------------------------


def test_drafts_newest_first_and_delete(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    older = build.draft(alice, [("sign", 1, bob)], title="较早的草稿", fields=False)
    Envelope.objects.filter(pk=older.pk).update(created_at=timezone.now() - dt.timedelta(days=1))
    newer = build.draft(alice, [("sign", 1, bob)], title="最新的草稿", fields=False)
    sent = build.draft(alice, [("sign", 1, bob)], title="已发起的任务")
    client = login(alice)
    assert client.post(reverse("envelopes:send", args=[sent.uuid])).status_code == 302

    text = page_text(client.get(reverse("envelopes:drafts")))
    assert text.index("最新的草稿") < text.index("较早的草稿")
    assert "已发起的任务" not in text
    assert reverse("envelopes:edit", args=[newer.uuid]) in text
    assert reverse("envelopes:delete", args=[older.uuid]) in text

    assert client.get(reverse("envelopes:delete", args=[older.uuid])).status_code == 405
    response = client.post(reverse("envelopes:delete", args=[older.uuid]))
    assert response.status_code == 302 and response["Location"] == reverse("envelopes:drafts")
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["已删除草稿“较早的草稿”。"]
    assert not Envelope.objects.filter(pk=older.pk).exists()
    assert Envelope.objects.filter(pk=newer.pk).exists()


def test_empty_drafts_page(people: dict) -> None:
    response = login(people["alice"]).get(reverse("envelopes:drafts"))
    assert response.status_code == 200 and "草稿箱是空的。" in page_text(response)


def test_a_word_document_without_the_converter_says_what_to_do(
    people: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qianshu.envelopes import convert

    monkeypatch.setattr(convert, "soffice", lambda: None)
    client = login(people["alice"])
    docx = SimpleUploadedFile("合同.docx", b"PK\x03\x04" + b"\x00" * 200)
    response = client.post(NEW, {**basics(), **rows(), "files": [docx], "action": "upload"})
    assert response.status_code == 400
    assert "请将 Word 文档另存为 PDF 后上传" in page_text(response)
    assert Envelope.objects.get().title == "办公设备采购合同"


def test_compose_pages_render_in_english(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = build.draft(alice, [("sign", 1, bob)])
    client = Client(headers={"accept-language": "en"})
    client.force_login(alice)
    urls = [NEW, reverse("envelopes:drafts"), *compose_urls(envelope)[:3]]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Content-Language"] == "en"
