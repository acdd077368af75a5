"""Documents and envelopes through the open API (issue 13): upload, create and send with
fields in points, query with filters and a cursor, remind, recall, download the signed
documents, the evidence report and the ZIP, and the audit trail — and the boundaries: another
organisation's key, a read-only key, a bad field that must leave nothing behind, a replayed
POST. Responses are checked against the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client
from django.utils import timezone

from qianshu.api import queries
from qianshu.api.actions.keys import do_create_api_key
from qianshu.api.models import Scope
from qianshu.core.meta import TASK
from qianshu.envelopes.models import Document, Envelope, Recipient
from qianshu.orgs.models import Organization
from qianshu.pki.actions import do_init_pki
from qianshu.signing.samples import make_test_pdf
from tests.api.helpers import check_openapi, problem_of
from tests.envelopes.helpers import sign
from tests.support.personas import make_signer, make_verified_org, real_name

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    do_init_pki(name="测试平台")
    alice, bob = make_signer("alice"), make_signer("bob")
    org = make_verified_org(alice)
    return {"alice": alice, "bob": bob, "org": org}


def _client(org: Organization, scopes: list[str] | None = None) -> Client:
    admin = org.memberships.get().user  # type: ignore[attr-defined]
    _key, plain = do_create_api_key(
        org, name="MIS", scopes=scopes or list(Scope.values), actor=admin, meta=TASK
    )
    return Client(HTTP_AUTHORIZATION=f"Bearer {plain}")


def _upload(api: Client, data: bytes | None = None, name: str = "采购合同.pdf") -> Any:
    return api.post(
        "/api/v1/documents",
        {"file": SimpleUploadedFile(name, data or make_test_pdf(pages=2), "application/pdf")},
    )


def _spec(upload_id: str, bob: Any, **field: Any) -> dict[str, Any]:
    box = {"type": "signature", "document": upload_id, "page": 2, "x": 60, "y": 600}
    return {
        "title": "采购合同",
        "documents": [upload_id],
        "recipients": [
            {
                "role": "signer",
                "order": 1,
                "name": real_name(bob),
                "phone": bob.phone,
                "fields": [{**box, "width": 120, "height": 48, **field}],
            }
        ],
    }


def test_the_whole_round_trip(world: dict[str, Any], openapi: dict[str, Any]) -> None:
    api = _client(world["org"])
    uploaded = _upload(api)
    check_openapi(openapi, "/api/v1/documents", "post", uploaded)
    assert uploaded.status_code == 201
    upload = json.loads(uploaded.content)
    assert upload["pages"] == 2 and len(upload["sha256"]) == 64
    created = api.post(
        "/api/v1/envelopes", _spec(upload["id"], world["bob"]), content_type="application/json"
    )
    check_openapi(openapi, "/api/v1/envelopes", "post", created)
    assert created.status_code == 201, created.content
    envelope = json.loads(created.content)
    assert envelope["status"] == "in_progress"
    assert [r["status"] for r in envelope["recipients"]] == ["pending"]
    path = f"/api/v1/envelopes/{envelope['id']}"
    reminded = api.post(f"{path}/remind")
    check_openapi(openapi, "/api/v1/envelopes/{envelope_id}/remind", "post", reminded)
    # bob signs on the platform; the envelope completes.
    row = Envelope.objects.get(uuid=envelope["id"])
    assert row.initiator_org == world["org"]
    sign(row.recipients.get(), world["bob"])
    got = api.get(path)
    check_openapi(openapi, "/api/v1/envelopes/{envelope_id}", "get", got)
    done = json.loads(got.content)
    assert done["status"] == "completed" and done["recipients"][0]["status"] == "done"
    document = done["documents"][0]
    pdf = api.get(f"{path}/documents/{document['id']}")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content if pdf.streaming else [pdf.content]).startswith(b"%PDF")
    report = api.get(f"{path}/report")
    assert report.status_code == 200 and report["Content-Type"] == "application/pdf"
    archive = api.get(f"{path}/archive")
    assert archive.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(b"".join(archive.streaming_content))).namelist()
    assert len(names) == 2 and any(n.endswith(".pdf") and "签署报告" in n for n in names)
    audit = api.get(f"{path}/audit")
    check_openapi(openapi, "/api/v1/envelopes/{envelope_id}/audit", "get", audit)
    actions = [e["action"] for e in json.loads(audit.content)]
    assert actions[0] == "created" and "signed" in actions and "completed" in actions
    assert actions.count("downloaded") == 3


def test_listing_with_filters_and_a_cursor(world: dict[str, Any], openapi: dict[str, Any]) -> None:
    api = _client(world["org"])
    upload_id = json.loads(_upload(api).content)["id"]
    ids = []
    for _ in range(3):
        spec = {**_spec(upload_id, world["bob"]), "send": False}
        response = api.post("/api/v1/envelopes", spec, content_type="application/json")
        ids.append(json.loads(response.content)["id"])
    first = api.get("/api/v1/envelopes?limit=2")
    check_openapi(openapi, "/api/v1/envelopes", "get", first)
    page = json.loads(first.content)
    assert [e["id"] for e in page["items"]] == ids[::-1][:2]
    rest = json.loads(api.get(f"/api/v1/envelopes?limit=2&cursor={page['next_cursor']}").content)
    assert [e["id"] for e in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    drafts = json.loads(api.get("/api/v1/envelopes?status=draft").content)["items"]
    assert len(drafts) == 3
    assert json.loads(api.get("/api/v1/envelopes?status=completed").content)["items"] == []
    sent = api.post(f"/api/v1/envelopes/{ids[0]}/send")
    assert json.loads(sent.content)["status"] == "in_progress"
    recalled = api.post(
        f"/api/v1/envelopes/{ids[0]}/recall",
        {"reason": "重新起草"},
        content_type="application/json",
    )
    assert json.loads(recalled.content)["status"] == "recalled"
    problem_of(api.get("/api/v1/envelopes?cursor=%%%"), 400, "invalid_envelope")


def test_another_organisations_key_sees_nothing(world: dict[str, Any]) -> None:
    api = _client(world["org"])
    upload_id = json.loads(_upload(api).content)["id"]
    envelope = json.loads(
        api.post(
            "/api/v1/envelopes", _spec(upload_id, world["bob"]), content_type="application/json"
        ).content
    )
    other = make_verified_org(make_signer("charlie"), name="上海其他科技有限公司")
    theirs = _client(other)
    path = f"/api/v1/envelopes/{envelope['id']}"
    for response in (
        theirs.get(path),
        theirs.get(f"{path}/audit"),
        theirs.get(f"{path}/documents/{envelope['documents'][0]['id']}"),
        theirs.post(f"{path}/recall", {"reason": "x"}, content_type="application/json"),
        theirs.post(f"{path}/remind"),
    ):
        problem_of(response, 404, "not_found")
    assert json.loads(theirs.get("/api/v1/envelopes").content)["items"] == []
    # Nor can it use the other organisation's upload.
    stolen = theirs.post(
        "/api/v1/envelopes", _spec(upload_id, world["bob"]), content_type="application/json"
    )
    problem_of(stolen, 404, "not_found")
    assert Envelope.objects.get(uuid=envelope["id"]).status == "in_progress"


def test_a_read_only_key_cannot_write(world: dict[str, Any]) -> None:
    reader = _client(world["org"], [Scope.ENVELOPES_READ])
    problem_of(_upload(reader), 403, "scope_missing")
    upload_id = json.loads(_upload(_client(world["org"])).content)["id"]
    spec = _spec(upload_id, world["bob"])
    problem_of(
        reader.post("/api/v1/envelopes", spec, content_type="application/json"),
        403,
        "scope_missing",
    )
    assert not Envelope.objects.exists()


def test_a_bad_field_leaves_nothing_behind(world: dict[str, Any]) -> None:
    api = _client(world["org"])
    upload_id = json.loads(_upload(api).content)["id"]
    before = Envelope.objects.count()
    outside = api.post(
        "/api/v1/envelopes",
        _spec(upload_id, world["bob"], x=5000),
        content_type="application/json",
    )
    body = problem_of(outside, 400, "invalid_envelope")
    assert body["field"] == "fields"
    no_page = api.post(
        "/api/v1/envelopes",
        _spec(upload_id, world["bob"], page=9),
        content_type="application/json",
    )
    assert no_page.status_code == 400
    seal_without_org = _spec(upload_id, world["bob"])
    seal_without_org["recipients"][0]["role"] = "seal"
    problem_of(
        api.post("/api/v1/envelopes", seal_without_org, content_type="application/json"),
        400,
        "invalid_envelope",
    )
    missing = _spec("00000000-0000-0000-0000-000000000000", world["bob"])
    problem_of(
        api.post("/api/v1/envelopes", missing, content_type="application/json"), 404, "not_found"
    )
    assert Envelope.objects.count() == before
    problem_of(_upload(api, b"not a pdf at all", "x.pdf"), 400, "envelope_refused")


def test_a_replayed_create_makes_one_envelope(world: dict[str, Any]) -> None:
    api = _client(world["org"])
    upload_id = json.loads(_upload(api).content)["id"]
    spec = _spec(upload_id, world["bob"])
    first = api.post(
        "/api/v1/envelopes", spec, content_type="application/json", HTTP_IDEMPOTENCY_KEY="order-77"
    )
    again = api.post(
        "/api/v1/envelopes", spec, content_type="application/json", HTTP_IDEMPOTENCY_KEY="order-77"
    )
    assert first.status_code == again.status_code == 201
    assert json.loads(first.content)["id"] == json.loads(again.content)["id"]
    assert Envelope.objects.filter(initiator_org=world["org"]).count() == 1


def test_a_signing_url_only_leads_to_the_signing_page(
    world: dict[str, Any], openapi: dict[str, Any]
) -> None:
    import datetime as dt

    from django.utils import timezone

    from qianshu.envelopes.links import recipient_link
    from tests.identity.helpers import logged_in

    api = _client(world["org"])
    upload_id = json.loads(_upload(api).content)["id"]
    envelope = json.loads(
        api.post(
            "/api/v1/envelopes", _spec(upload_id, world["bob"]), content_type="application/json"
        ).content
    )
    recipient_id = envelope["recipients"][0]["id"]
    path = f"/api/v1/envelopes/{envelope['id']}/recipients/{recipient_id}/signing-url"
    answer = api.post(path, {"expires_in": 600}, content_type="application/json")
    check_openapi(
        openapi,
        "/api/v1/envelopes/{envelope_id}/recipients/{recipient_id}/signing-url",
        "post",
        answer,
    )
    body = json.loads(answer.content)
    link = body["url"].removeprefix("http://testserver")
    assert 590 <= (dt.datetime.fromisoformat(body["expires_at"]) - timezone.now()).seconds <= 600
    # Anonymous: to the SMS login. The right signer: to the signing page. Anyone else: 403.
    anonymous = Client().get(link)
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    signer = logged_in(world["bob"]).get(link)
    assert signer.status_code == 302 and signer["Location"].endswith("/sign/")
    assert logged_in(world["alice"]).get(link).status_code == 403
    # An expired link leads nowhere.
    row = Envelope.objects.get(uuid=envelope["id"]).recipients.get()
    old = recipient_link(row, expires=timezone.now() - dt.timedelta(seconds=1))
    expired = logged_in(world["bob"]).get("/" + old.split("/", 3)[3])
    assert expired.status_code == 404
    # Another organisation's key cannot make one.
    other = _client(make_verified_org(make_signer("charlie"), name="上海其他科技有限公司"))
    problem_of(other.post(path, {}, content_type="application/json"), 404, "not_found")


def test_fields_placed_by_anchor_text(world: dict[str, Any]) -> None:
    """契约锁 关键字定位: the field goes right of the words, on their page."""
    from qianshu.envelopes.models import Field

    api = _client(world["org"])
    upload_id = json.loads(_upload(api).content)["id"]
    spec = _spec(upload_id, world["bob"])
    spec["recipients"][0]["fields"] = [
        {"type": "signature", "document": upload_id, "anchor": "甲方（采购方）", "offset_x": 4},
    ]
    created = api.post("/api/v1/envelopes", spec, content_type="application/json")
    assert created.status_code == 201, created.content
    field = Field.objects.get(recipient__envelope__uuid=json.loads(created.content)["id"])
    assert field.page == 0
    # The words run from x 73 to 141 pt, y 687–698 pt (from the bottom) on page 1.
    x1, y1, x2, y2 = field.x1, field.y1, field.x2, field.y2
    assert 141 + 4 - 2 < x1 < 141 + 4 + 2 and abs(x2 - x1 - 120) < 1 and abs(y2 - y1 - 48) < 1
    assert y1 < 692 < y2  # vertically centred on the words
    spec["recipients"][0]["fields"][0]["anchor"] = "丙方（盖章）"
    missing = api.post("/api/v1/envelopes", spec, content_type="application/json")
    body = problem_of(missing, 400, "invalid_envelope")
    assert "丙方（盖章）" in body["detail"] and body["field"] == "fields"


def _expected(envelope: Envelope) -> dict[str, Any]:
    """The answer for ``envelope``, built from its rows apart from either of the API's paths."""
    when = DjangoJSONEncoder().default
    recipients = envelope.recipients.order_by("routing_order", "pk")
    documents = envelope.documents.order_by("position", "pk")
    return {
        "id": str(envelope.uuid),
        "number": envelope.number,
        "title": envelope.title,
        "status": envelope.status,
        "scene": envelope.scene,
        **{
            name: getattr(envelope, name) and when(getattr(envelope, name))
            for name in ("created_at", "sent_at", "completed_at", "deadline")
        },
        "recipients": [
            {
                "id": r.pk,
                "role": {"sign": "signer", "seal": "seal", "approve": "approver"}[r.role],
                "order": r.routing_order,
                "name": r.name,
                "status": r.status,
                "viewed_at": r.viewed_at and when(r.viewed_at),
                "done_at": r.done_at and when(r.done_at),
                "reason": r.reason,
            }
            for r in recipients
        ],
        "documents": [
            {"id": d.pk, "name": d.name, "pages": len(d.page_boxes), "sha256": d.current_id}
            for d in documents
        ],
    }


def test_answers_show_every_recipient_and_document_in_order(
    world: dict[str, Any], openapi: dict[str, Any]
) -> None:
    """The one-statement answers (PostgreSQL) and the models' (SQLite, and the calls that act)
    against the rows: recipients by routing order, documents by position, times in UTC."""
    api = _client(world["org"])
    two, three = (json.loads(_upload(api, make_test_pdf(pages=n)).content)["id"] for n in (2, 3))
    carol = make_signer("charlie")
    spec = _spec(two, world["bob"])
    spec["documents"] = [three, two]
    spec["recipients"].append(
        {**spec["recipients"][0], "order": 2, "name": real_name(carol), "phone": carol.phone}
    )
    spec["recipients"][1]["fields"] = [{**spec["recipients"][0]["fields"][0], "x": 300}]
    spec["scene"] = "采购"
    created = api.post("/api/v1/envelopes", spec, content_type="application/json")
    envelope = Envelope.objects.get(uuid=json.loads(created.content)["id"])
    draft = {**_spec(two, world["bob"]), "send": False, "title": "草稿"}
    newer = api.post("/api/v1/envelopes", draft, content_type="application/json")
    newest = Envelope.objects.get(uuid=json.loads(newer.content)["id"])
    moment = timezone.now().replace(microsecond=123456)
    Envelope.objects.filter(pk=envelope.pk).update(deadline=moment + dt.timedelta(days=3))
    first, second = envelope.recipients.order_by("routing_order")
    # Stored in the reverse of their routing order, with times and a reason of their own.
    Recipient.objects.filter(pk=first.pk).update(routing_order=3, viewed_at=moment, reason="“退回”")
    Recipient.objects.filter(pk=second.pk).update(done_at=moment - dt.timedelta(seconds=1))
    # The documents too: the one made first is put last.
    Document.objects.filter(pk=envelope.documents.order_by("pk")[0].pk).update(position=5)
    envelope.refresh_from_db()
    expected = _expected(envelope)
    assert [r["order"] for r in expected["recipients"]] == [2, 3]
    assert [d["pages"] for d in expected["documents"]] == [2, 3]
    got = api.get(f"/api/v1/envelopes/{envelope.uuid}")
    check_openapi(openapi, "/api/v1/envelopes/{envelope_id}", "get", got)
    assert json.loads(got.content) == expected
    listed = api.get("/api/v1/envelopes")
    check_openapi(openapi, "/api/v1/envelopes", "get", listed)
    assert json.loads(listed.content)["items"] == [_expected(newest), expected]
    model = queries.org_envelope(world["org"].pk, str(envelope.uuid))
    assert model is not None
    assert json.loads(json.dumps(queries.envelope_out(model).dict(), cls=DjangoJSONEncoder)) == (
        expected
    )


def test_answers_are_only_of_the_keys_organisation_and_the_standard_kind(
    world: dict[str, Any],
) -> None:
    """Another organisation — one with the same name too — gets none of this one's envelopes by
    id, by a forged page of ids or by a crafted id; nor does this one get a non-standard
    envelope (a 作废声明) by its id or in its list."""
    api = _client(world["org"])
    upload_id = json.loads(_upload(api).content)["id"]
    spec = _spec(upload_id, world["bob"])
    mine = [
        Envelope.objects.get(
            uuid=json.loads(
                api.post("/api/v1/envelopes", spec, content_type="application/json").content
            )["id"]
        )
        for _ in range(2)
    ]
    namesake = make_verified_org(make_signer("charlie"), name=world["org"].name)
    theirs = _client(namesake)
    for envelope in mine:
        problem_of(theirs.get(f"/api/v1/envelopes/{envelope.uuid}"), 404, "not_found")
        assert queries.envelope_answer(namesake.pk, str(envelope.uuid)) is None
    assert queries.envelope_answers(namesake.pk, [e.pk for e in mine]) == []
    assert json.loads(theirs.get("/api/v1/envelopes").content)["items"] == []
    for crafted in ("' OR 1=1 --", f"{mine[0].uuid}' OR '1'='1", "%27%20OR%201=1"):
        problem_of(theirs.get(f"/api/v1/envelopes/{crafted}"), 404, "not_found")
    Envelope.objects.filter(pk=mine[0].pk).update(kind=Envelope.Kind.VOID_STATEMENT)
    problem_of(api.get(f"/api/v1/envelopes/{mine[0].uuid}"), 404, "not_found")
    listed = json.loads(api.get("/api/v1/envelopes").content)["items"]
    assert [e["id"] for e in listed] == [str(mine[1].uuid)]
    assert [a.id for a in queries.envelope_answers(world["org"].pk, [e.pk for e in mine])] == [
        str(mine[1].uuid)
    ]
