"""Where a field goes (envelopes/placement.py): the one schema the field editor's save and a
signer's free placement are read with, the conversion to PDF points, and hostile input at both
pages (messages as the pages show them, never a 500, nothing saved or signed)."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from qianshu.core.meta import TASK
from qianshu.envelopes import placement
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.models import Document, Envelope, Field, Recipient
from qianshu.envelopes.placement import PlacementError
from qianshu.signing.stamps import Rect
from tests.envelopes.helpers import seen
from tests.support.personas import PIN

# Two A4 pages, the second with a page box that does not start at the origin.
BOXES = [[0.0, 0.0, 595.0, 842.0], [10.0, 20.0, 622.0, 812.0]]
MALFORMED = "数据格式不正确，请刷新页面后重试。"
INVALID = "提交无效，请刷新页面后重试。"


def document(pk: int = 7, boxes: list[list[float]] | None = None) -> Document:
    return Document(pk=pk, page_boxes=boxes or BOXES)


def recipient(pk: int = 3, name: str = "李博文") -> Recipient:
    return Recipient(pk=pk, name=name, role=Recipient.Role.SIGN)


# What the editor's state.payload() sends (editor/state.mjs) and signing.mjs's free placements.
EDITOR_SIGNATURE = {
    "recipient": 3,
    "document": 7,
    "kind": "signature",
    "page": 1,
    "left": 0.1,
    "top": 0.7,
    "width": 0.2,
    "height": 0.06,
    "label": "",
}
EDITOR_TEXT = {**EDITOR_SIGNATURE, "kind": "text", "label": "合同金额", "top": 0.5}
EDITOR_CROSS = {
    "recipient": 3,
    "document": 7,
    "kind": "cross_page_seal",
    "page": 0,
    "pages": [0, 1],
    "left": 1 - 119 / 2 / 595,
    "top": 0.4,
    "width": 119 / 2 / 595,
    "height": 119 / 842,
    "label": "",
}
SIGNING_SIGNATURE = {
    "document": 7,
    "kind": "signature",
    "page": 0,
    "left": 0.55,
    "top": 0.8,
    "width": 0.2,
    "height": 0.06,
}
SIGNING_CROSS = {**EDITOR_CROSS, "recipient": None}
del SIGNING_CROSS["recipient"], SIGNING_CROSS["label"]


def pts(rect: Rect) -> tuple[float, float, float, float]:
    return (rect.x1, rect.y1, rect.x2, rect.y2)


def editor_body(*items: dict[str, Any]) -> bytes:
    return json.dumps({"fields": list(items)}).encode()


def editor_read(*items: dict[str, Any]) -> list[placement.FieldInput]:
    return placement.editor_fields(editor_body(*items), {7: document()}, {3: recipient()})


def editor_refusal(item: dict[str, Any]) -> str:
    with pytest.raises(PlacementError) as caught:
        editor_read(EDITOR_SIGNATURE, item)
    assert caught.value.index == 1  # the editor selects the field that is wrong
    return str(caught.value)


def signing_refusal(item: object) -> str:
    with pytest.raises(PlacementError) as caught:
        placement.signer_field(item, {7: document()})
    return str(caught.value)


# --- what the pages send is read -------------------------------------------------------------


def test_the_editors_payload_is_read_in_pdf_points() -> None:
    signature, text, cross = editor_read(EDITOR_SIGNATURE, EDITOR_TEXT, EDITOR_CROSS)
    assert (signature.recipient_id, signature.document_id, signature.kind) == (3, 7, "signature")
    assert signature.page == 1 and signature.pages == ()
    # page 2's box is (10, 20)–(622, 812): 612 × 792 points
    assert signature.rect.x1 == pytest.approx(10 + 0.1 * 612)
    assert signature.rect.x2 == pytest.approx(10 + 0.3 * 612)
    assert signature.rect.y2 == pytest.approx(812 - 0.7 * 792)
    assert signature.rect.y1 == pytest.approx(812 - 0.76 * 792)
    assert text.label == "合同金额" and text.value == ""
    assert cross.kind == "cross_page_seal" and cross.page == 0 and cross.pages == (0, 1)
    # on the right edge of the first page, one strip of the 119 pt seal per page
    assert cross.rect.x2 == 595 and cross.rect.x1 == pytest.approx(595 - 119 / 2)
    assert cross.rect.y2 == pytest.approx(842 * 0.6) and cross.rect.height == pytest.approx(119)


def test_the_signing_pages_payload_is_read_with_the_signer_to_come() -> None:
    field = placement.signer_field(SIGNING_SIGNATURE, {7: document()})
    assert field.recipient_id == 0 and field.document_id == 7 and field.page == 0
    assert pts(field.rect) == pytest.approx((0.55 * 595, 842 * 0.14, 0.75 * 595, 842 * 0.2))
    cross = placement.signer_field(SIGNING_CROSS, {7: document()})
    assert cross.pages == (0, 1) and cross.rect.x2 == 595


def test_a_text_value_typed_by_a_signer_is_kept_cut_and_the_editor_cannot_set_one() -> None:
    field = placement.signer_field(
        {**SIGNING_SIGNATURE, "kind": "text", "value": "长" * 500}, {7: document()}
    )
    assert field.value == "长" * placement.MAX_VALUE
    (editor,) = editor_read({**EDITOR_TEXT, "value": "预填的内容"})
    assert editor.value == ""


def old_editor_rect(box: Rect, item: dict[str, Any]) -> Rect:
    """The editor's parser before placement.py, written out (compose_forms._field_input)."""
    if item["kind"] == "cross_page_seal":
        y2 = box.y2 - item["top"] * box.height
        size = item["height"] * box.height
        return Rect(box.x2 - size / len(item["pages"]), y2 - size, box.x2, y2)
    x1 = box.x1 + item["left"] * box.width
    y2 = box.y2 - item["top"] * box.height
    return Rect(x1, y2 - item["height"] * box.height, x1 + item["width"] * box.width, y2)


@pytest.mark.parametrize(
    "item",
    [
        EDITOR_SIGNATURE,
        {**EDITOR_SIGNATURE, "page": 0, "left": 0, "top": 0, "width": 1, "height": 1},
        {**EDITOR_SIGNATURE, "left": 0.333333, "top": 0.123457, "width": 0.05, "height": 0.5},
        EDITOR_CROSS,
        {**EDITOR_CROSS, "top": 0, "height": 0.2},
    ],
    ids=["signature", "whole-page", "rounded", "cross", "cross-top"],
)
def test_the_conversion_matches_the_old_parsers(item: dict[str, Any]) -> None:
    (field,) = editor_read(item)
    first = item["pages"][0] if item["kind"] == "cross_page_seal" else item["page"]
    expected = old_editor_rect(document().boxes()[first], item)
    assert pts(field.rect) == pytest.approx(pts(expected))
    # the signing page's parser gave the same rectangle (its cross-page seal: the same height
    # and vertical position; the editor's right-edge strip is what the signing page sends)
    signing = {k: v for k, v in item.items() if k not in ("recipient", "label")}
    free = placement.signer_field(signing, {7: document()})
    assert pts(free.rect) == pytest.approx(pts(expected))


# --- hostile input: the editor ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"left": -5}, "签署位置超出了页面范围，或太小。"),
        ({"width": 1e308}, "签署位置超出了页面范围，或太小。"),
        ({"top": math.nan}, "签署位置超出了页面范围，或太小。"),
        ({"height": math.inf}, "签署位置超出了页面范围，或太小。"),
        ({"left": "0.1"}, MALFORMED),
        ({"left": True}, MALFORMED),
        ({"left": None}, MALFORMED),
        ({"recipient": "3"}, MALFORMED),
        ({"document": 7.0}, MALFORMED),
        ({"page": -1}, "签署位置的页码超出了文件页数。"),
        ({"page": 2}, "签署位置的页码超出了文件页数。"),
        ({"page": 10**30}, "签署位置的页码超出了文件页数。"),
        ({"page": True}, MALFORMED),
        ({"kind": "checkbox"}, "“李博文”不能有“checkbox”。"),
        ({"kind": ["signature"]}, MALFORMED),
        ({"label": 5}, MALFORMED),
        ({"label": "很" * 10_000}, MALFORMED),
        ({"recipient": 4}, "签署位置对应的签署方或文件不存在，请刷新页面。"),
        ({"document": 8}, "签署位置对应的签署方或文件不存在，请刷新页面。"),
        ({"recipient": {"a": [[[]]]}}, MALFORMED),
        ({"kind": "cross_page_seal", "pages": [0]}, "骑缝章至少需要跨两页。"),
        ({"kind": "cross_page_seal", "pages": [0, 2]}, "骑缝章的页码超出了文件页数。"),
        ({"kind": "cross_page_seal", "pages": [-1, 0]}, "骑缝章的页码超出了文件页数。"),
        ({"kind": "cross_page_seal", "pages": "0,1"}, MALFORMED),
        ({"kind": "cross_page_seal"}, MALFORMED),
    ],
)
def test_the_editor_refuses_hostile_input_with_its_message(
    change: dict[str, Any], message: str
) -> None:
    assert editor_refusal({**EDITOR_SIGNATURE, **change}) == message


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"fields": ' + b"[" * 100_000, b"\xff", b"{}", b'{"fields": [[]]}'],
    ids=["nested", "nested-fields", "bad-utf8", "no-fields", "list-item"],
)
def test_the_editor_refuses_junk_bodies(body: bytes) -> None:
    with pytest.raises(PlacementError) as caught:
        placement.editor_fields(body, {7: document()}, {3: recipient()})
    assert str(caught.value) == MALFORMED


def test_the_editor_refuses_too_many_fields() -> None:
    body = editor_body(*[EDITOR_SIGNATURE] * (placement.MAX_FIELDS + 1))
    with pytest.raises(PlacementError) as caught:
        placement.editor_fields(body, {7: document()}, {3: recipient()})
    assert str(caught.value) == "签署位置最多 300 个。" and caught.value.index is None
    assert len(editor_read(*[EDITOR_SIGNATURE] * placement.MAX_FIELDS)) == placement.MAX_FIELDS


# --- hostile input: free placement while signing ----------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"left": -5}, "签署位置超出了页面范围，请重新放置。"),
        ({"width": 1e308}, "签署位置超出了页面范围，请重新放置。"),
        ({"top": math.nan}, "签署位置超出了页面范围，请重新放置。"),
        ({"height": -math.inf}, "签署位置超出了页面范围，请重新放置。"),
        ({"left": "0.1"}, "签署位置无效，请重新放置。"),
        ({"left": None}, "签署位置无效，请重新放置。"),
        ({"kind": "checkbox"}, "签署位置对应的文件不存在，请刷新页面。"),
        ({"document": 8}, "签署位置对应的文件不存在，请刷新页面。"),
        ({"document": "7; DROP"}, INVALID),
        ({"page": 2}, "签署位置的页码超出了文件页数。"),
        ({"page": -1}, "签署位置的页码超出了文件页数。"),
        ({"value": {"x": 1}}, INVALID),
        ({"kind": "cross_page_seal", "pages": "all"}, "骑缝章的页码无效。"),
        ({"kind": "cross_page_seal", "pages": [0, 1, 1]}, "骑缝章的页码无效。"),
        ({"kind": "cross_page_seal", "pages": [1, 1]}, "骑缝章至少需要跨两页。"),
        ({"kind": "cross_page_seal", "pages": [0, 5]}, "签署位置的页码超出了文件页数。"),
    ],
)
def test_free_placement_refuses_hostile_input_with_its_message(
    change: dict[str, Any], message: str
) -> None:
    assert signing_refusal({**SIGNING_SIGNATURE, **change}) == message


def test_free_placement_refuses_what_is_not_an_object() -> None:
    assert signing_refusal([SIGNING_SIGNATURE]) == INVALID
    assert signing_refusal("signature") == INVALID


# --- through the pages, as an attacker ---------------------------------------------------------


@pytest.fixture
def two_drafts(people: dict, build: Any) -> tuple[Envelope, Envelope]:
    mine = build.draft(people["alice"], [("sign", 1, people["bob"])], fields=False)
    theirs = build.draft(people["charlie"], [("sign", 1, people["bob"])], fields=False)
    return mine, theirs


def sent(build: Any, initiator: Any, signer: Any) -> Envelope:
    envelope = build.draft(initiator, [("sign", 1, signer)], fields=False)
    compose_actions.do_send_envelope(envelope, actor=initiator, meta=TASK)
    envelope.refresh_from_db()
    return envelope


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def save(client: Client, envelope: Envelope, body: bytes) -> Any:
    return client.post(
        reverse("envelopes:fields", args=[envelope.uuid]), body, content_type="application/json"
    )


def spot(owner: Recipient, doc: Document, **change: Any) -> dict[str, Any]:
    item = {**EDITOR_SIGNATURE, "recipient": owner.pk, "document": doc.pk, "page": 0}
    return {**item, **change}


@pytest.mark.parametrize("whose", ["recipient", "document"])
def test_a_field_for_another_envelopes_recipient_or_document_is_refused(
    people: dict, two_drafts: tuple[Envelope, Envelope], whose: str
) -> None:
    mine, theirs = two_drafts
    owner, doc = mine.recipients.get(), mine.documents.get()
    other = {"recipient": theirs.recipients.get().pk, "document": theirs.documents.get().pk}
    body = editor_body(spot(owner, doc), spot(owner, doc, **{whose: other[whose]}))
    response = save(login(people["alice"]), mine, body)
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "message": "签署位置对应的签署方或文件不存在，请刷新页面。",
        "index": 1,
    }
    assert not Field.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 100_000, MALFORMED),
        (b'{"fields": [{"recipient": NaN}]}', MALFORMED),
        (b'{"fields": [{"left": Infinity}]}', MALFORMED),
    ],
    ids=["nested", "nan-id", "infinity"],
)
def test_the_editor_page_answers_junk_with_a_400(
    people: dict, two_drafts: tuple[Envelope, Envelope], body: bytes, message: str
) -> None:
    mine, _theirs = two_drafts
    response = save(login(people["alice"]), mine, body)
    assert response.status_code == 400 and response.json()["message"] == message
    assert not Field.objects.exists()


def test_nan_and_infinity_in_a_box_are_off_the_page(
    people: dict, two_drafts: tuple[Envelope, Envelope]
) -> None:
    mine, _theirs = two_drafts
    item = json.dumps(spot(mine.recipients.get(), mine.documents.get()))
    for literal in ("NaN", "Infinity", "-Infinity", "1e999"):
        body = ('{"fields": [' + item.replace('"top": 0.7', '"top": ' + literal) + "]}").encode()
        response = save(login(people["alice"]), mine, body)
        assert response.status_code == 400
        assert response.json()["message"] == "签署位置超出了页面范围，或太小。"
    assert not Field.objects.exists()


def sign_submit(client: Client, envelope: Envelope, owner: Recipient, fields: Any) -> Any:
    body = {
        "key": uuid.uuid4().hex,
        "recipient": owner.pk,
        "seen": {str(k): v for k, v in seen(envelope).items()},
        "fields": fields,
        "pin": PIN,
    }
    return client.post(
        reverse("envelopes:sign-submit", args=[envelope.uuid]),
        json.dumps(body),
        content_type="application/json",
    )


def test_free_placement_on_another_envelopes_document_signs_nothing(
    people: dict, build: Any
) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, bob)
    other = sent(build, alice, people["charlie"])
    owner = envelope.recipients.get()
    revision = envelope.documents.get().revision
    stranger = {**SIGNING_SIGNATURE, "document": other.documents.get().pk}
    response = sign_submit(login(bob), envelope, owner, [stranger])
    assert response.status_code == 400
    assert response.json()["message"] == "签署位置对应的文件不存在，请刷新页面。"
    assert not Field.objects.filter(envelope__in=[envelope, other]).exists()
    assert envelope.documents.get().revision == revision


def test_free_placement_nested_junk_and_nan_get_a_400(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, bob)
    client = login(bob)
    response = client.post(
        reverse("envelopes:sign-submit", args=[envelope.uuid]),
        b'{"fields": ' + b"[" * 100_000,  # beyond the JSON parser's recursion
        content_type="application/json",
    )
    assert response.status_code == 400 and response.json()["message"] == INVALID
    nan = {**SIGNING_SIGNATURE, "document": envelope.documents.get().pk, "left": math.nan}
    response = sign_submit(client, envelope, envelope.recipients.get(), [nan])
    assert response.status_code == 400
    assert response.json()["message"] == "签署位置超出了页面范围，请重新放置。"
    assert not Field.objects.filter(envelope=envelope).exists()
