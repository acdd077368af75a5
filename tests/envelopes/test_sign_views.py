"""文件签署 through the views: the signing page, 提交签署 (JSON), SMS-code confirmation, seals,
指定位置签署, 拒签 / 退回, 审批, and who may open what."""

from __future__ import annotations

import base64
import io
import json
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from PIL import Image, ImageDraw

from qianshu.accounts.actions import do_save_signature
from qianshu.accounts.signatures import SignatureImage
from qianshu.core.meta import TASK
from qianshu.envelopes import compose
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.links import recipient_token
from qianshu.envelopes.models import AuditEvent, Envelope, Field, Recipient, Revision
from qianshu.identity.models import SigningCredential
from qianshu.orgs.models import SealUsage
from qianshu.pki.platform import load_platform
from qianshu.signing.stamps import Rect
from qianshu.signing.verify import verify_pdf
from tests.envelopes.helpers import next_phone, seen
from tests.support.accounts import make_user, sms_code
from tests.support.personas import (
    PIN,
    make_signer,
    make_verified_person,
    seal_of,
    signature_png,
    valid_credit_code,
)

pytestmark = pytest.mark.django_db


# --- helpers ----------------------------------------------------------------------------------


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name: str, envelope: Envelope) -> str:
    return reverse(f"envelopes:{name}", args=[envelope.uuid])


def sent(build: Any, initiator: Any, parties: list, **kwargs: Any) -> Envelope:
    envelope = build.draft(initiator, parties, **kwargs)
    compose_actions.do_send_envelope(envelope, actor=initiator, meta=TASK)
    envelope.refresh_from_db()
    return envelope


def page_data(response: Any) -> dict[str, Any]:
    html = response.content.decode()
    start = html.index('<script id="signing-data" type="application/json">') + len(
        '<script id="signing-data" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def all_fields(recipient: Recipient) -> list[dict[str, Any]]:
    return [{"field": f.pk} for f in recipient.fields.all()]


def submit(
    client: Client,
    envelope: Envelope,
    recipient: Recipient,
    *,
    key: str | None = None,
    fields: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> Any:
    body: dict[str, Any] = {
        "key": key or uuid.uuid4().hex,
        "recipient": recipient.pk,
        "seen": {str(k): v for k, v in seen(envelope).items()},
        "fields": all_fields(recipient) if fields is None else fields,
    }
    body.update(extra)
    return client.post(
        url("sign-submit", envelope), json.dumps(body), content_type="application/json"
    )


def drawn_png_data_url() -> str:
    image = Image.new("RGBA", (600, 240), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.line([(60, 120), (200, 60), (320, 170), (520, 90)], fill=(0, 0, 0, 255), width=12)
    draw.line([(120, 200), (480, 200)], fill=(0, 0, 0, 255), width=10)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def verdict(envelope: Envelope) -> str:
    data = envelope.documents.get().current.read()
    report = verify_pdf(data, load_platform().trust())
    assert report.verdict == "valid", report.reason
    return report.verdict


# --- the page ---------------------------------------------------------------------------------


def test_signing_page_lists_documents_and_records_the_first_view(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob), ("sign", 2, alice)], documents=2, pages=3)
    response = client_for(bob).get(url("sign", envelope))
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("签署文件列表", "任务名称", "发起方", "签署截止", "一键盖章", "拒签", "提交签署"):
        assert text in html
    assert envelope.title in html and "合同1.pdf" in html and "合同2.pdf" in html
    data = page_data(response)
    mine = envelope.recipients.get(routing_order=1)
    assert data["recipient"] == mine.pk and data["role"] == "sign" and not data["needsCode"]
    assert data["free"] is False
    assert {f["kind"] for f in data["fields"]} == {"signature", "date"}
    assert len(data["fields"]) == 4  # signature + date on each document
    # alice's fields are shown faintly (others), with her name
    assert {f["name"] for f in data["others"]} == {
        mine.envelope.recipients.get(routing_order=2).name
    }
    assert data["seen"] == {str(k): v for k, v in seen(envelope).items()}
    assert data["signatures"] and data["signatures"][0]["default"]
    # page images of the current revision, sized for the screen, cached by revision
    document = envelope.documents.order_by("position").first()
    assert document is not None
    assert f"?w=800&amp;r={document.current_id}" in html and 'loading="lazy"' in html
    assert html.count('data-testid="sign-page"') == 6
    mine.refresh_from_db()
    assert mine.status == Recipient.Status.VIEWED
    assert (
        AuditEvent.objects.filter(envelope=envelope, action="viewed", recipient=mine).count() == 1
    )
    client_for(bob).get(url("sign", envelope))  # a second view is not recorded again
    assert AuditEvent.objects.filter(envelope=envelope, action="viewed").count() == 1


def test_not_your_turn_redirects_to_the_envelope_and_actions_give_404(
    people: dict, build: Any
) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob), ("sign", 2, alice)])
    client = client_for(alice)
    response = client.get(url("sign", envelope))
    assert response.status_code == 302 and response["Location"] == envelope.get_absolute_url()
    second = envelope.recipients.get(routing_order=2)
    assert submit(client, envelope, second, pin=PIN).status_code == 404
    assert client.post(url("reject", envelope), {"reason": "不同意"}).status_code == 404
    assert client.post(url("approve", envelope)).status_code == 404
    assert envelope.documents.get().revision == 1


def test_an_outsider_gets_404_everywhere(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelope = sent(build, alice, [("sign", 1, bob)])
    client = client_for(charlie)
    recipient = envelope.recipients.get()
    for name in ("sign", "sign-done", "reject"):
        assert client.get(url(name, envelope)).status_code == 404, name
    for name in ("sign-submit", "sign-code", "approve", "reject"):
        assert (
            client.post(url(name, envelope), "{}", content_type="application/json").status_code
            == 404
        ), name
    assert submit(client, envelope, recipient, pin=PIN).status_code == 404
    # unknown envelope
    assert client.get(reverse("envelopes:sign", args=[uuid.uuid4()])).status_code == 404
    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.PENDING


def test_unverified_signer_is_sent_to_identity_verification(pki: None, build: Any) -> None:
    alice = make_signer("alice")
    dave = make_user("dave", phone=next_phone())
    envelope = compose_actions.do_create_draft(title="劳动合同", actor=alice, meta=TASK)
    from qianshu.signing.samples import make_test_pdf

    compose_actions.do_add_document(
        envelope, make_test_pdf(pages=1), "合同.pdf", actor=alice, meta=TASK
    )
    compose_actions.do_set_recipients(
        envelope,
        [compose.RecipientInput(role="sign", routing_order=1, name="戴夫", phone=dave.phone)],
        actor=alice,
    )
    compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
    response = client_for(dave).get(url("sign", envelope))
    assert response.status_code == 200
    html = response.content.decode()
    assert "实名认证" in html and reverse("identity:start") in html
    assert 'data-testid="sign-blocked"' in html
    recipient = envelope.recipients.get()
    assert recipient.status == Recipient.Status.PENDING  # not viewed: nothing was shown
    # and submitting anyway is refused with the same guidance, nothing signed
    response = submit(client_for(dave), envelope, recipient, pin=PIN)
    assert response.status_code == 400 and "实名认证" in response.json()["message"]


def test_a_name_that_differs_from_the_recipient_is_explained(pki: None, build: Any) -> None:
    alice = make_signer("alice")
    bob = make_signer("bob")
    envelope = compose_actions.do_create_draft(title="劳动合同", actor=alice, meta=TASK)
    from qianshu.signing.samples import make_test_pdf

    compose_actions.do_add_document(
        envelope, make_test_pdf(pages=1), "合同.pdf", actor=alice, meta=TASK
    )
    compose_actions.do_set_recipients(
        envelope,
        [compose.RecipientInput(role="sign", routing_order=1, name="王五", phone=bob.phone)],
        actor=alice,
    )
    compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
    response = client_for(bob).get(url("sign", envelope))
    html = response.content.decode()
    assert response.status_code == 200 and "王五" in html and "不一致" in html
    assert reverse("identity:start") not in html


# --- 提交签署 ---------------------------------------------------------------------------------


def test_sign_with_pin_then_the_result_page(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob), ("sign", 2, alice)])
    recipient = envelope.recipients.get(routing_order=1)
    client = client_for(bob)
    response = submit(client, envelope, recipient, pin=PIN)
    assert response.status_code == 200, response.content
    assert response.json() == {"ok": True, "redirect": url("sign-done", envelope)}
    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.DONE and recipient.acted_by == bob
    document = envelope.documents.get()
    assert document.revision == 2
    assert Field.objects.filter(recipient=recipient, filled_at__isnull=True).count() == 0
    assert verdict(envelope) == "valid"
    done = client.get(url("sign-done", envelope))
    html = done.content.decode()
    assert done.status_code == 200 and "已签署，等待下一位签署方" in html
    assert envelope.recipients.get(routing_order=2).name in html
    # bob's turn is over: the signing page now leads to the envelope
    assert client.get(url("sign", envelope))["Location"] == envelope.get_absolute_url()


def test_the_last_signature_completes_and_offers_downloads(
    people: dict, build: Any, django_capture_on_commit_callbacks: Any
) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob)])
    recipient = envelope.recipients.get()
    client = client_for(bob)
    with django_capture_on_commit_callbacks(execute=True):
        assert submit(client, envelope, recipient, pin=PIN).status_code == 200
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    html = client.get(url("sign-done", envelope)).content.decode()
    assert "全部签署完成" in html
    document = envelope.documents.get()
    assert reverse("envelopes:download", args=[envelope.uuid, document.pk]) in html
    assert verdict(envelope) == "valid"


def test_wrong_pin_is_refused_with_the_remaining_tries_and_signs_nothing(
    people: dict, build: Any
) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob)])
    recipient = envelope.recipients.get()
    response = submit(client_for(bob), envelope, recipient, pin="111111")
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False and "签署密码错误" in body["message"] and "4" in body["message"]
    assert body["confirm"] is True
    recipient.refresh_from_db()
    assert recipient.status != Recipient.Status.DONE
    assert envelope.documents.get().revision == 1


def test_missing_fields_are_refused(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob)])
    recipient = envelope.recipients.get()
    first = recipient.fields.first()
    assert first is not None
    response = submit(client_for(bob), envelope, recipient, fields=[{"field": first.pk}], pin=PIN)
    assert response.status_code == 400 and "未签署" in response.json()["message"]
    assert envelope.documents.get().revision == 1


def test_text_fields_are_filled_by_the_signer(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = build.draft(alice, [("sign", 1, bob)])
    document = envelope.documents.get()
    recipient = envelope.recipients.get()
    items = [
        compose.FieldInput(recipient.pk, document.pk, "signature", 1, Rect(40, 40, 160, 88)),
        compose.FieldInput(
            recipient.pk, document.pk, "text", 1, Rect(40, 100, 200, 122), label="意见"
        ),
    ]
    compose_actions.do_set_fields(envelope, items, actor=alice)
    compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
    client = client_for(bob)
    data = page_data(client.get(url("sign", envelope)))
    text = next(f for f in data["fields"] if f["kind"] == "text")
    assert text["label"] == "意见"
    signature = next(f for f in data["fields"] if f["kind"] == "signature")
    empty = [{"field": signature["id"]}, {"field": text["id"], "value": "  "}]
    response = submit(client, envelope, recipient, fields=empty, pin=PIN)
    assert response.status_code == 400 and "意见" in response.json()["message"]
    filled = [{"field": signature["id"]}, {"field": text["id"], "value": "同意 本合同"}]
    response = submit(client, envelope, recipient, fields=filled, pin=PIN)
    assert response.status_code == 200, response.content
    assert Field.objects.get(pk=text["id"]).value == "同意 本合同"
    assert verdict(envelope) == "valid"


def test_sms_code_confirms_for_a_signer_without_pin(pki: None, build: Any) -> None:
    alice = make_signer("alice")
    zhang = make_verified_person("张伟", next_phone())
    do_save_signature(
        SignatureImage.from_png(signature_png()), source="drawn", actor=zhang, meta=TASK
    )
    assert not SigningCredential.objects.filter(user=zhang).exists()
    envelope = sent(build, alice, [("sign", 1, zhang)])
    recipient = envelope.recipients.get()
    client = client_for(zhang)
    page = client.get(url("sign", envelope))
    assert page_data(page)["needsCode"] is True
    assert "获取验证码" in page.content.decode()
    seen_map = {str(k): v for k, v in seen(envelope).items()}
    response = client.post(
        url("sign-code", envelope), json.dumps({"seen": seen_map}), content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["ok"], response.content
    # a second request within 60 s is refused with the wait
    again = client.post(
        url("sign-code", envelope), json.dumps({"seen": seen_map}), content_type="application/json"
    )
    assert again.status_code == 429 and again.json()["retry_after"] > 0
    code = sms_code(zhang.phone)
    wrong = submit(client, envelope, recipient, code="000000" if code != "000000" else "111111")
    assert wrong.status_code == 400 and not wrong.json()["ok"]
    response = submit(client, envelope, recipient, code=code)
    assert response.status_code == 200, response.content
    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.DONE
    event = AuditEvent.objects.get(envelope=envelope, action="signed")
    assert event.detail["confirmation"] == "sms"
    assert verdict(envelope) == "valid"


def test_the_same_idempotency_key_signs_once(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob), ("sign", 2, alice)])
    recipient = envelope.recipients.get(routing_order=1)
    client = client_for(bob)
    first = submit(client, envelope, recipient, key="k-123", pin=PIN)
    again = submit(client, envelope, recipient, key="k-123", pin=PIN)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert Revision.objects.filter(document__envelope=envelope, action="signed").count() == 1
    assert AuditEvent.objects.filter(envelope=envelope, action="signed").count() == 1
    # a different key after signing: it is no longer bob's turn
    assert submit(client, envelope, recipient, key="k-456", pin=PIN).status_code == 404


def test_a_revision_the_signer_never_saw_is_refused(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob)])
    recipient = envelope.recipients.get()
    document = envelope.documents.get()
    response = submit(
        client_for(bob), envelope, recipient, seen={str(document.pk): "ab" * 32}, pin=PIN
    )
    assert response.status_code == 409
    body = response.json()
    assert "已更新" in body["message"] and body["reload"] is True
    assert envelope.documents.get().revision == 1


def test_a_stale_recipient_id_asks_for_a_reload(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob)])
    recipient = envelope.recipients.get()
    body = {"key": "k", "recipient": recipient.pk + 99, "seen": {}, "fields": [], "pin": PIN}
    response = client_for(bob).post(
        url("sign-submit", envelope), json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 409 and response.json()["reload"] is True


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'"text"',
        b"\xff\xfe",
        json.dumps({"key": "k", "seen": "x"}).encode(),
        json.dumps({"key": "k", "seen": {"abc": "x"}}).encode(),
        json.dumps({"key": "k", "seen": {"1": 5}}).encode(),
        json.dumps({"key": "k", "seen": {}, "fields": []}).encode(),
    ],
)
def test_malformed_submissions_are_400_not_500(people: dict, build: Any, body: bytes) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob)])
    client = client_for(bob)
    response = client.post(url("sign-submit", envelope), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["ok"] is False and response.json()["message"]
    response = client.post(url("sign-code", envelope), body, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "fields",
    [
        "all",
        [1, 2],
        [{"field": "x"}],
        [{"field": True}],
        [{"document": 0, "kind": "signature", "page": 0}],
        [{"document": "DOC", "kind": "nope", "page": 0}],
        [{"document": "DOC", "kind": "signature", "page": 0, "left": "a"}],
        [
            {
                "document": "DOC",
                "kind": "signature",
                "page": 0,
                "left": 1e309,
                "top": 0,
                "width": 0.1,
                "height": 0.1,
            }
        ],
        [
            {
                "document": "DOC",
                "kind": "signature",
                "page": 0,
                "left": 0.1,
                "top": 0.1,
                "width": 5,
                "height": 0.1,
            }
        ],
        [
            {
                "document": "DOC",
                "kind": "signature",
                "page": 9,
                "left": 0.1,
                "top": 0.1,
                "width": 0.1,
                "height": 0.1,
            }
        ],
        [
            {
                "document": "DOC",
                "kind": "cross_page_seal",
                "pages": [0],
                "left": 0.9,
                "top": 0.1,
                "width": 0.1,
                "height": 0.1,
            }
        ],
        [
            {
                "document": "DOC",
                "kind": "cross_page_seal",
                "pages": "01",
                "left": 0.9,
                "top": 0.1,
                "width": 0.1,
                "height": 0.1,
            }
        ],
    ],
)
def test_malformed_fields_are_400(people: dict, build: Any, fields: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob)], fields=False)
    document = envelope.documents.get()
    text = json.dumps(fields).replace('"DOC"', str(document.pk))
    response = submit(
        client_for(bob), envelope, envelope.recipients.get(), fields=json.loads(text), pin=PIN
    )
    assert response.status_code == 400, response.content
    assert response.json()["message"]
    assert envelope.documents.get().revision == 1


def test_a_broken_drawn_signature_is_refused(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob)])
    recipient = envelope.recipients.get()
    client = client_for(bob)
    for bad in ("data:image/png;base64,!!!", "data:image/jpeg;base64,AAAA", 12):
        response = submit(client, envelope, recipient, signature=bad, pin=PIN)
        assert response.status_code == 400 and "签名" in response.json()["message"]
    assert envelope.documents.get().revision == 1


def test_a_drawn_signature_is_used_this_time_only(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob)])
    recipient = envelope.recipients.get()
    before = bob.signatures.count()
    response = submit(client_for(bob), envelope, recipient, signature=drawn_png_data_url(), pin=PIN)
    assert response.status_code == 200, response.content
    assert bob.signatures.count() == before  # not saved to 个人签章
    assert verdict(envelope) == "valid"


# --- 指定位置签署 -----------------------------------------------------------------------------


def test_free_placement_on_an_uncertified_document(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob)], fields=False, pages=2)
    document = envelope.documents.get()
    assert not document.certified
    client = client_for(bob)
    data = page_data(client.get(url("sign", envelope)))
    assert data["free"] is True and data["fields"] == []
    assert "指定位置签署" in client.get(url("sign", envelope)).content.decode()
    recipient = envelope.recipients.get()
    fields = [
        {
            "document": document.pk,
            "kind": "signature",
            "page": 1,
            "left": 0.55,
            "top": 0.8,
            "width": 0.2,
            "height": 0.06,
        },
        {
            "document": document.pk,
            "kind": "date",
            "page": 1,
            "left": 0.55,
            "top": 0.87,
            "width": 0.18,
            "height": 0.03,
        },
    ]
    response = submit(client, envelope, recipient, fields=fields, pin=PIN)
    assert response.status_code == 200, response.content
    placed = list(Field.objects.filter(recipient=recipient).order_by("id"))
    assert [f.kind for f in placed] == ["signature", "date"]
    assert all(f.placed_by_signer and f.filled_at and f.page == 1 for f in placed)
    box = document.page_boxes[1]
    width, height = box[2] - box[0], box[3] - box[1]
    assert placed[0].x1 == pytest.approx(box[0] + 0.55 * width)
    assert placed[0].y2 == pytest.approx(box[3] - 0.8 * height)
    assert verdict(envelope) == "valid"


def test_free_placement_without_any_stamp_is_refused(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob)], fields=False)
    response = submit(client_for(bob), envelope, envelope.recipients.get(), fields=[], pin=PIN)
    assert response.status_code == 400 and "放置" in response.json()["message"]


def test_free_placement_is_refused_on_a_certified_document(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob)])
    document = envelope.documents.get()
    assert document.certified
    recipient = envelope.recipients.get()
    extra = {
        "document": document.pk,
        "kind": "signature",
        "page": 0,
        "left": 0.1,
        "top": 0.1,
        "width": 0.2,
        "height": 0.06,
    }
    response = submit(
        client_for(bob), envelope, recipient, fields=[*all_fields(recipient), extra], pin=PIN
    )
    assert response.status_code == 400 and "指定位置" in response.json()["message"]
    assert document.revision == envelope.documents.get().revision


# --- seals --------------------------------------------------------------------------------------


def test_seal_with_a_granted_seal_and_a_cross_page_seal(
    people: dict, seal_org: Any, build: Any
) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    org = seal_org(charlie, "厦门某某供应链有限公司", keeper=bob)
    envelope = compose_actions.do_create_draft(title="采购合同", actor=alice, meta=TASK)
    from qianshu.signing.samples import make_test_pdf

    compose_actions.do_add_document(
        envelope, make_test_pdf(pages=3), "合同.pdf", actor=alice, meta=TASK
    )
    compose_actions.do_set_recipients(
        envelope,
        [
            compose.RecipientInput(
                role="seal",
                routing_order=1,
                name=org.name,
                phone=bob.phone,
                org_uuid=str(org.uuid),
            )
        ],
        actor=alice,
    )
    compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
    envelope.refresh_from_db()
    client = client_for(bob)
    response = client.get(url("sign", envelope))
    assert response.status_code == 200
    data = page_data(response)
    seal = seal_of(org)
    assert data["role"] == "seal" and [s["uuid"] for s in data["seals"]] == [str(seal.uuid)]
    assert reverse("orgs:my-seal-image", args=[org.uuid, seal.uuid]) in response.content.decode()
    assert "骑缝章" in response.content.decode()
    document = envelope.documents.get()
    recipient = envelope.recipients.get()
    fields = [
        {
            "document": document.pk,
            "kind": "seal",
            "page": 2,
            "left": 0.6,
            "top": 0.7,
            "width": 0.2,
            "height": 0.14,
        },
        {
            "document": document.pk,
            "kind": "cross_page_seal",
            "pages": [0, 1, 2],
            "left": 0.93,
            "top": 0.45,
            "width": 0.07,
            "height": 0.14,
        },
    ]
    response = submit(client, envelope, recipient, fields=fields, seal=str(seal.uuid), pin=PIN)
    assert response.status_code == 200, response.content
    recipient.refresh_from_db()
    assert recipient.seal == seal and recipient.org == org and recipient.acted_by == bob
    cross = Field.objects.get(recipient=recipient, kind="cross_page_seal")
    assert cross.pages == [0, 1, 2]
    assert SealUsage.objects.filter(seal=seal, user=bob).count() == 1
    html = client.get(url("sign-done", envelope)).content.decode()
    assert "全部签署完成" in html or "已盖章" in html


def test_seal_fields_declared_by_the_initiator(people: dict, seal_org: Any, build: Any) -> None:
    alice, charlie = people["alice"], people["charlie"]
    org = seal_org(charlie, "厦门某某供应链有限公司")
    envelope = sent(build, alice, [("seal", 1, org)])
    recipient = envelope.recipients.get()
    client = client_for(charlie)
    data = page_data(client.get(url("sign", envelope)))
    assert [f["kind"] for f in data["fields"]] == ["seal"] and data["free"] is False
    response = submit(client, envelope, recipient, seal=str(seal_of(org).uuid), pin=PIN)
    assert response.status_code == 200, response.content
    assert verdict(envelope) == "valid"


def test_a_seal_without_a_grant_is_refused(people: dict, seal_org: Any, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    org = seal_org(charlie, "厦门某某供应链有限公司")
    other = seal_org(alice, "北京另一家科技有限公司")
    envelope = sent(build, alice, [("seal", 1, org)])
    recipient = envelope.recipients.get()
    client = client_for(charlie)
    for seal_uuid in (str(seal_of(other).uuid), str(uuid.uuid4()), "not-a-uuid", None):
        response = submit(client, envelope, recipient, seal=seal_uuid, pin=PIN)
        assert response.status_code == 400, (seal_uuid, response.content)
        assert "印章" in response.json()["message"]
    recipient.refresh_from_db()
    assert recipient.status != Recipient.Status.DONE
    assert not SealUsage.objects.exists()
    assert envelope.documents.get().revision == 1
    del bob


def test_seal_recipient_without_a_usable_seal_is_told_what_to_do(
    people: dict, seal_org: Any, build: Any
) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    org = seal_org(charlie, "厦门某某供应链有限公司", keeper=bob)  # charlie: admin, no grant
    envelope = sent(build, alice, [("seal", 1, org)])  # contact: the admin, charlie
    response = client_for(charlie).get(url("sign", envelope))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="sign-no-seal"' in html and "印章授权" in html
    assert reverse("orgs:grants", args=[org.uuid]) in html

    # the contact person of an organisation not on the platform yet: the link says which
    # organisation must verify (name and credit code, 创建组织 prefilled), and shows no document
    dave = make_signer("dave", next_phone())
    envelope = compose_actions.do_create_draft(title="采购合同", actor=alice, meta=TASK)
    from qianshu.signing.samples import make_test_pdf

    code = valid_credit_code()
    compose_actions.do_add_document(
        envelope, make_test_pdf(pages=1), "合同.pdf", actor=alice, meta=TASK
    )
    compose_actions.do_set_recipients(
        envelope,
        [
            compose.RecipientInput(
                role="seal",
                routing_order=1,
                name="上海某某有限公司",
                phone=dave.phone,
                org_credit_code=code,
            )
        ],
        actor=alice,
    )
    compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
    recipient = envelope.recipients.get()
    assert recipient.org is None
    response = client_for(dave).get(reverse("envelopes:link", args=[recipient_token(recipient)]))
    html = response.content.decode()
    assert response.status_code == 200 and 'data-state="unbound"' in html
    assert "上海某某有限公司" in html and code in html
    create = (
        reverse("orgs:create") + "?" + urlencode({"name": "上海某某有限公司", "credit_code": code})
    )
    assert escape(create) in html
    assert (
        reverse("envelopes:download", args=[envelope.uuid, envelope.documents.get().pk]) not in html
    )
    assert client_for(dave).get(url("sign", envelope)).status_code == 404
    assert client_for(dave).get(envelope.get_absolute_url()).status_code == 404
    assert submit(client_for(dave), envelope, recipient, pin=PIN).status_code == 404


# --- 拒签 / 审批 -------------------------------------------------------------------------------


def test_reject_needs_a_reason(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob)])
    client = client_for(bob)
    fetch = {"X-Requested-With": "fetch"}
    response = client.post(url("reject", envelope), {"reason": "   "}, headers=fetch)
    assert response.status_code == 400 and "拒签原因" in response.json()["message"]
    response = client.post(url("reject", envelope), {"reason": ""})  # the page without script
    assert response.status_code == 400 and "请填写拒签原因" in response.content.decode()
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.IN_PROGRESS
    response = client.post(url("reject", envelope), {"reason": "金额有误"}, headers=fetch)
    assert response.status_code == 200 and response.json()["redirect"] == url("sign-done", envelope)
    envelope.refresh_from_db()
    recipient = envelope.recipients.get()
    assert envelope.status == Envelope.Status.REJECTED and recipient.reason == "金额有误"
    html = client.get(url("sign-done", envelope)).content.decode()
    assert "已拒签" in html and "金额有误" in html


def test_reject_with_a_form_post_and_json(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob)])
    client = client_for(bob)
    assert client.get(url("reject", envelope)).status_code == 200
    response = client.post(
        url("reject", envelope),
        json.dumps({"reason": "签署方信息有误"}),
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["ok"]
    assert envelope.recipients.get().status == Recipient.Status.REJECTED


def test_approver_agrees_or_returns(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelope = sent(build, alice, [("approve", 1, bob), ("sign", 2, charlie)])
    client = client_for(bob)
    response = client.get(url("sign", envelope))
    html = response.content.decode()
    assert response.status_code == 200 and "同意" in html and "退回" in html
    assert 'id="sg-stamp"' not in html
    # an approver cannot "sign"
    approver = envelope.recipients.get(routing_order=1)
    assert submit(client, envelope, approver, fields=[], pin=PIN).status_code == 400
    response = client.post(url("approve", envelope))
    assert response.status_code == 302 and response["Location"] == url("sign-done", envelope)
    approver.refresh_from_db()
    assert approver.status == Recipient.Status.DONE
    assert envelope.recipients.get(routing_order=2).status == Recipient.Status.PENDING
    assert "已同意" in client.get(url("sign-done", envelope)).content.decode()

    returned = sent(build, alice, [("approve", 1, bob), ("sign", 2, charlie)])
    response = client.post(url("reject", returned), {"reason": "请补充附件"})
    assert response.status_code == 302
    returned.refresh_from_db()
    assert returned.status == Envelope.Status.REJECTED
    assert "已退回" in client.get(url("sign-done", returned)).content.decode()


def test_done_page_without_having_acted_leads_back(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob), ("sign", 2, alice)])
    assert client_for(bob).get(url("sign-done", envelope))["Location"] == url("sign", envelope)
    assert (
        client_for(alice).get(url("sign-done", envelope))["Location"] == envelope.get_absolute_url()
    )


def test_templates_keep_every_interface_text_in_translation_tags() -> None:
    """English pages must show no Chinese once the catalogue is filled: nothing bare."""
    import re
    from pathlib import Path

    folder = Path(compose.__file__).parent / "templates/envelopes/sign"
    cjk = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3001-\u3011]")
    for path in sorted(folder.glob("*.html")):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"{% comment %}.*?{% endcomment %}", "", text, flags=re.S)
        text = re.sub(r"{% blocktranslate.*?{% endblocktranslate %}", "", text, flags=re.S)
        text = re.sub(r"{% translate .*?%}", "", text)
        assert not cjk.search(text), (path.name, cjk.findall(text))
