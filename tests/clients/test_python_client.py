"""The Python client (clients/python) against a running Qianshu on loopback: every call it
offers, its errors, its retries with one Idempotency-Key, and its webhook verifier checked
against messages the platform really sent."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from django.db import transaction
from qianshu_client import ApiError, Qianshu, WebhookVerificationError, verify_webhook

from qianshu.api.actions.keys import do_create_api_key
from qianshu.api.models import Scope
from qianshu.core.meta import TASK
from qianshu.orgs.models import Organization
from qianshu.webhooks.actions.messages import do_emit_event
from tests.support.accounts import make_user
from tests.support.personas import make_verified_org
from tests.webhooks.receiver import running_receiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def org() -> Organization:
    return make_verified_org(make_user("alice"))


def _client(live_server: Any, org: Organization, scopes: list[str] | None = None) -> Qianshu:
    admin = org.memberships.get().user  # type: ignore[attr-defined]
    _key, plain = do_create_api_key(
        org, name="MIS", scopes=scopes or list(Scope.values), actor=admin, meta=TASK
    )
    return Qianshu(live_server.url, plain, retries=0)


def test_calls_against_a_running_platform(
    live_server: Any, org: Organization, settings: Any
) -> None:
    settings.QIANSHU_WEBHOOK_ALLOW_PRIVATE = True
    with _client(live_server, org) as qs, running_receiver() as receiver:
        assert qs.org()["credit_code"] == org.credit_code
        assert qs.seals() == []
        hook = qs.create_webhook(receiver.url, ["envelope.completed"], "MIS")
        assert hook["secret"].startswith("whsec_")
        assert [h["id"] for h in qs.list_webhooks()] == [hook["id"]]
        assert qs.update_webhook(hook["id"], receiver.url, ["envelope.sent"])["events"] == [
            "envelope.sent"
        ]
        with transaction.atomic():
            do_emit_event(org, "envelope.sent", {"envelope": {"number": "QS-1"}})
        (got,) = receiver.received
        payload = verify_webhook(hook["secret"], got.headers, got.body)
        assert payload["data"] == {"envelope": {"number": "QS-1"}}
        with pytest.raises(WebhookVerificationError):
            verify_webhook(hook["secret"], got.headers, got.body.replace("QS-1", "QS-2"))
        (message,) = qs.webhook_messages(hook["id"])
        assert message["status"] == "delivered"
        assert qs.redeliver(hook["id"], message["id"])["id"] == message["id"]
        new_secret = qs.rotate_webhook_secret(hook["id"])
        assert new_secret != hook["secret"]
        assert qs.disable_webhook(hook["id"])["status"] == "disabled"
        assert qs.enable_webhook(hook["id"])["status"] == "active"
        qs.delete_webhook(hook["id"])
        with pytest.raises(ApiError) as missing:
            qs.get_webhook(hook["id"])
        assert (missing.value.status, missing.value.code) == (404, "not_found")
        with pytest.raises(ApiError) as unsafe:
            qs.create_webhook("ftp://example.com/", ["envelope.sent"])
        assert unsafe.value.field == "url"
        report = qs.verify(b"%PDF-1.7\n%%EOF\n")
        assert report["verdict"] == "indeterminate"


def test_a_wrong_key_is_an_api_error(live_server: Any) -> None:
    with Qianshu(live_server.url, "qsk_nope_nope", retries=0) as qs:
        with pytest.raises(ApiError) as error:
            qs.org()
    assert (error.value.status, error.value.code) == (401, "unauthenticated")


def test_retries_keep_one_idempotency_key() -> None:
    seen: list[httpx.Request] = []
    answers = [httpx.Response(503), httpx.Response(429, headers={"Retry-After": "0"})]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if answers:
            return answers.pop(0)
        return httpx.Response(201, json={"id": "w1", "secret": "whsec_x"})

    qs = Qianshu(
        "http://qianshu.test", "qsk_a_b", backoff=0, transport=httpx.MockTransport(handler)
    )
    assert qs.create_webhook("https://example.com/h", ["envelope.sent"])["id"] == "w1"
    keys = {r.headers["Idempotency-Key"] for r in seen}
    assert len(seen) == 3 and len(keys) == 1
    assert json.loads(seen[0].content)["events"] == ["envelope.sent"]
    # Out of retries: the last answer is raised.
    failing = Qianshu(
        "http://qianshu.test",
        "qsk_a_b",
        retries=1,
        backoff=0,
        transport=httpx.MockTransport(lambda r: httpx.Response(503, json={"code": "x"})),
    )
    with pytest.raises(ApiError) as error:
        failing.org()
    assert error.value.status == 503


def test_an_envelope_from_upload_to_signed_download(live_server: Any, settings: Any) -> None:
    """The procurement system's calls: upload, create and send, follow, download."""
    import io
    import zipfile

    from qianshu.envelopes.models import Envelope
    from qianshu.pki.actions import do_init_pki
    from qianshu.signing.samples import make_test_pdf
    from tests.envelopes.helpers import sign
    from tests.support.personas import make_signer, real_name

    do_init_pki(name="测试平台")
    alice, bob = make_signer("alice"), make_signer("bob")
    org = make_verified_org(alice)
    with _client(live_server, org) as qs:
        upload = qs.upload_document(make_test_pdf(pages=2), "采购合同.pdf")
        signer = {
            "role": "signer",
            "order": 1,
            "name": real_name(bob),
            "phone": bob.phone,
            "fields": [
                {"type": "signature", "document": upload["id"], "page": 2, "x": 60,
                 "y": 600, "width": 120, "height": 48},
            ],
        }  # fmt: skip
        envelope = qs.create_envelope("采购合同", [upload["id"]], [signer], idempotency_key="PO-1")
        again = qs.create_envelope("采购合同", [upload["id"]], [signer], idempotency_key="PO-1")
        assert again["id"] == envelope["id"] and envelope["status"] == "in_progress"
        assert [e["id"] for e in qs.envelopes(status="in_progress")] == [envelope["id"]]
        recipient_id = envelope["recipients"][0]["id"]
        link = qs.signing_url(envelope["id"], recipient_id, expires_in=600)
        assert "/s/" in link["url"] and link["expires_at"]  # on QIANSHU_PUBLIC_URL
        # A person's step is never sealed by a key (this key holds no seal either).
        with pytest.raises(ApiError) as refused:
            qs.seal(envelope["id"], recipient_id)
        assert (refused.value.status, refused.value.code) == (403, "seal_not_allowed")
        with pytest.raises(ApiError) as refused:
            qs.seal_batch([(envelope["id"], recipient_id)], idempotency_key="day-1")
        assert (refused.value.status, refused.value.code) == (403, "seal_not_allowed")
        sign(Envelope.objects.get(uuid=envelope["id"]).recipients.get(), bob)
        done = qs.envelope(envelope["id"])
        assert done["status"] == "completed"
        pdf = qs.download_document(envelope["id"], done["documents"][0]["id"])
        assert pdf.startswith(b"%PDF")
        assert qs.download_report(envelope["id"]).startswith(b"%PDF")
        assert len(zipfile.ZipFile(io.BytesIO(qs.download_archive(envelope["id"]))).namelist()) == 2
        assert qs.audit_trail(envelope["id"])[0]["action"] == "created"
        report = qs.verify(pdf)
        assert report["verdict"] == "valid"  # the platform root is trusted


def test_batch_sealing_through_the_client(live_server: Any) -> None:
    """批量用印 with the key's granted seal: two steps sealed in one call, a third (a person's
    step) refused in its result; the call sent again with its key seals nothing twice."""
    import datetime as dt

    from django.utils import timezone

    from qianshu.api.actions.seals import do_grant_seal_to_key
    from qianshu.orgs.models import Seal, SealUsage
    from qianshu.pki.actions import do_init_pki
    from qianshu.signing.samples import make_test_pdf
    from tests.support.personas import make_signer, real_name
    from tests.support.seals import make_seal

    do_init_pki(name="测试平台")
    alice, bob = make_signer("alice"), make_signer("bob")
    org = make_verified_org(alice)
    key, plain = do_create_api_key(
        org, name="MIS", scopes=list(Scope.values), actor=alice, meta=TASK
    )
    seal = make_seal(org, alice, kind=Seal.Kind.CONTRACT)
    valid_until = timezone.now() + dt.timedelta(days=3)
    do_grant_seal_to_key(key, seal, valid_until=valid_until, actor=alice, meta=TASK)
    with Qianshu(live_server.url, plain, retries=0) as qs:
        steps = []
        for _ in range(2):
            upload = qs.upload_document(make_test_pdf(pages=1), "采购合同.pdf")
            sealer = {
                "role": "seal", "order": 1, "name": org.name, "phone": alice.phone,
                "org": {"name": org.name, "credit_code": org.credit_code},
                "fields": [{"type": "seal", "document": upload["id"], "page": 1, "x": 300,
                            "y": 560}],
            }  # fmt: skip
            signer = {
                "role": "signer", "order": 2, "name": real_name(bob), "phone": bob.phone,
                "fields": [{"type": "signature", "document": upload["id"], "page": 1, "x": 60,
                            "y": 600}],
            }  # fmt: skip
            envelope = qs.create_envelope("采购合同", [upload["id"]], [sealer, signer])
            by_role = {r["role"]: r["id"] for r in envelope["recipients"]}
            steps.append((envelope["id"], by_role["seal"]))
        person = (steps[1][0], by_role["signer"])  # the last envelope's person
        done = qs.seal_batch([*steps, person], idempotency_key="PO-7")
        assert (done["sealed"], done["refused"]) == (2, 1)
        assert [r["code"] for r in done["results"]] == [None, None, "seal_not_allowed"]
        assert qs.seal_batch([*steps, person], idempotency_key="PO-7") == done
        assert SealUsage.objects.filter(seal=seal).count() == 2
