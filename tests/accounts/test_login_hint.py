"""Signing and invitation links no longer put the phone number into URLs (issue 10 item 12).

An anonymous visitor of ``/s/<token>/`` or an invitation link is sent to the login page with an
opaque, short-lived hint: the page shows the number masked and sends the code to it, and neither
a redirect, the page nor any answer carries the full number. A tampered or expired hint is
ignored (the normal login form)."""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from qianshu.accounts import hints
from qianshu.core.meta import TASK
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.links import recipient_token
from qianshu.notifications.models import OutboxMessage
from tests.envelopes.helpers import Builder
from tests.support.accounts import PERSONAS, make_user, sms_code
from tests.support.personas import make_signer

pytestmark = pytest.mark.django_db

BOB = PERSONAS["bob"]


@pytest.fixture(autouse=True)
def _keep_codes(settings: Any, tmp_path: Any) -> None:
    from qianshu.storage.blobs import reset_blob_store_cache

    settings.QIANSHU_OUTBOX_KEEP_SENSITIVE = True
    settings.QIANSHU_STORAGE = "local"
    settings.QIANSHU_STORAGE_DIR = tmp_path / "blobs"
    reset_blob_store_cache()


def hint_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["hint"][0]


def assert_no_phone(text: str, phone: str) -> None:
    assert phone not in text
    assert phone[-8:] not in text  # not even most of it


def test_hint_is_opaque_and_round_trips() -> None:
    hint = hints.login_hint(BOB)
    assert_no_phone(hint, BOB)
    padded = hint + "=" * (-len(hint) % 4)
    assert BOB.encode() not in base64.urlsafe_b64decode(padded)
    assert hints.phone_from_hint(hint) == BOB
    assert hints.phone_from_hint(hints.login_hint(BOB)) == BOB  # a fresh hint each time
    assert hints.login_hint(BOB) != hint


@pytest.mark.parametrize(
    "bad", ["", "x", "gAAAAAB" + "A" * 80, "not a hint at all", "%00", "a" * 5000]
)
def test_bad_hints_are_ignored(bad: str) -> None:
    assert hints.phone_from_hint(bad) is None
    page = Client().get("/login/", {"hint": bad, "next": "/me/"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="phone"' in html and 'name="hint"' not in html


def test_tampered_hint_is_ignored() -> None:
    hint = hints.login_hint(BOB)
    flipped = hint[:-6] + ("A" if hint[-6] != "A" else "B") + hint[-5:]
    assert hints.phone_from_hint(flipped) is None
    html = Client().get("/login/", {"hint": flipped}).content.decode()
    assert 'name="phone"' in html and "****" not in html


def test_expired_hint_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    real = time.time()
    monkeypatch.setattr(hints.time, "time", lambda: real - hints.HINT_MAX_AGE - 5)
    old = hints.login_hint(BOB)
    monkeypatch.undo()
    assert hints.phone_from_hint(old) is None
    client = Client()
    html = client.get("/login/", {"hint": old}).content.decode()
    assert 'name="phone"' in html and 'name="hint"' not in html
    # posting an expired hint sends nothing and asks for the number
    response = client.post("/login/", {"action": "send", "hint": old})
    assert response.status_code in (200, 400)
    assert not OutboxMessage.objects.filter(recipient=BOB).exists()


def test_signing_link_logs_in_without_showing_the_number() -> None:
    from qianshu.pki.actions import do_init_pki

    do_init_pki(name="测试平台")
    alice, bob = make_signer("alice"), make_signer("bob")
    envelope = Builder().draft(alice, [("sign", 1, bob)], pages=1)
    compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
    recipient = envelope.recipients.get()
    link = reverse("envelopes:link", args=[recipient_token(recipient)])
    visitor = Client()
    response = visitor.get(link)
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/login/?")
    assert_no_phone(location, bob.phone)
    assert parse_qs(urlsplit(location).query)["next"] == [link]
    page = visitor.get(location)
    html = page.content.decode()
    assert_no_phone(html, bob.phone)
    assert "138****0002" in html and 'name="phone"' not in html
    # 获取验证码 sends the code to the hinted phone; the answer does not echo the number
    hint = hint_of(location)
    sent = visitor.post(
        "/login/",
        {"action": "send", "hint": hint, "next": link},
        headers={"X-Requested-With": "fetch"},
    )
    assert sent.status_code == 200 and sent.json()["ok"]
    assert_no_phone(sent.content.decode(), bob.phone)
    # a wrong code re-renders the page, still masked
    wrong = visitor.post(
        "/login/", {"action": "login", "hint": hint, "code": "000000", "next": link}
    )
    assert wrong.status_code == 400
    assert_no_phone(wrong.content.decode(), bob.phone)
    assert "138****0002" in wrong.content.decode()
    code = sms_code(bob.phone)
    response = visitor.post(
        "/login/", {"action": "login", "hint": hint, "code": code, "next": link}
    )
    assert response.status_code == 302 and response["Location"] == link
    response = visitor.get(link)
    assert response["Location"] == reverse("envelopes:sign", args=[envelope.uuid])


def test_a_hint_cannot_be_steered_to_another_phone() -> None:
    """The phone posted beside a valid hint is ignored: the hint decides where the code goes."""
    hint = hints.login_hint(BOB)
    Client().post(
        "/login/",
        {"action": "send", "hint": hint, "phone": "13911112222"},
        headers={"X-Requested-With": "fetch"},
    )
    assert OutboxMessage.objects.filter(recipient=BOB, kind="login_code").count() == 1
    assert not OutboxMessage.objects.filter(recipient="13911112222").exists()


def test_invitation_link_logs_in_without_showing_the_number() -> None:
    from tests.support.personas import make_verified_org, make_verified_person

    alice = make_verified_person("alice")
    org = make_verified_org(alice, name="甲方科技有限公司")
    admin = Client()
    admin.force_login(alice)
    admin.post(
        reverse("orgs:member-invite", args=[org.uuid]), {"phone": BOB, "role": "seal_keeper"}
    )
    body = OutboxMessage.objects.filter(recipient=BOB, kind="org_invitation").get().body
    path = "/orgs/invitations/" + body.split("/orgs/invitations/")[1].split("/")[0] + "/"
    visitor = Client()
    response = visitor.get(path)
    assert response.status_code == 302
    assert_no_phone(response["Location"], BOB)
    html = visitor.get(response["Location"]).content.decode()
    assert_no_phone(html, BOB)
    assert "138****0002" in html
    make_user("bob")
    hint = hint_of(response["Location"])
    visitor.post("/login/", {"action": "send", "hint": hint, "next": path})
    done = visitor.post(
        "/login/", {"action": "login", "hint": hint, "code": sms_code(BOB), "next": path}
    )
    assert done.status_code == 302 and done["Location"] == path
    assert b'data-testid="invitation-accept"' in visitor.get(path).content
