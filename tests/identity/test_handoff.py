"""手机扫码认证 (issue 12, 10b): the computer's QR code, the phone that opens it, and the
computer that notices — with the attacks: replay, expiry, another account, tampering."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from qianshu.accounts.hints import phone_from_hint
from qianshu.accounts.models import RateLimit, SecurityEvent, User
from qianshu.identity.handoffs import HANDOFFS_PER_HOUR, nonce_hash
from qianshu.identity.models import IdentityHandoff
from tests.identity.helpers import logged_in, verify_with_bank4

pytestmark = pytest.mark.django_db

LINK = re.compile(
    r'data-testid="identity-handoff-link" href="https?://[^/"]+(/me/identity/handoff/[^"/]+/)"'
)


def qr_link(computer: Client) -> str:
    page = computer.get("/me/identity/").content.decode()
    assert 'data-testid="identity-handoff-qr"' in page and "<svg" in page
    match = LINK.search(page)
    assert match, page
    return match.group(1)


def poll(computer: Client) -> dict[str, Any]:
    handoff = IdentityHandoff.objects.latest("created_at", "id")
    response = computer.get(f"/me/identity/handoff/{handoff.pk}/status/")
    assert response.status_code == 200
    return dict(response.json())


def token_of(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[1]


def test_the_phone_finishes_verification_and_the_computer_moves_on(alice: User) -> None:
    computer = logged_in(alice)
    computer.get("/me/identity/?next=/orgs/")  # where the computer came from
    path = qr_link(computer)
    assert qr_link(computer) == path  # a reload shows the same QR code
    assert IdentityHandoff.objects.count() == 1
    assert poll(computer) == {"state": "waiting"}
    # The phone, not logged in: to the login page with the account's phone filled in.
    phone = Client()
    response = phone.get(path)
    assert response.status_code == 302 and response["Referrer-Policy"] == "no-referrer"
    query = {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}
    assert query["next"] == path and phone_from_hint(query["hint"]) == alice.phone
    assert alice.phone not in response["Location"]
    # Logged in as the same account: on to verification, and the code is used up.
    phone.force_login(alice)
    response = phone.get(path)
    assert response.status_code == 302 and response["Location"] == "/me/identity/start/"
    assert IdentityHandoff.objects.get().used_at is not None
    assert poll(computer) == {"state": "opened"}
    verify_with_bank4(phone)
    assert poll(computer) == {"state": "verified", "next": "/orgs/"}
    actions = list(SecurityEvent.objects.filter(user=alice).values_list("action", flat=True))
    assert "identity_handoff_started" in actions and "identity_handoff_opened" in actions


def test_attacker_replay_of_a_used_code(alice: User) -> None:
    path = qr_link(logged_in(alice))
    assert logged_in(alice).get(path).status_code == 302
    replay = logged_in(alice).get(path)
    assert replay.status_code == 410 and "已使用" in replay.content.decode()
    # not even to the login page
    assert Client().get(path).status_code == 410


def test_attacker_another_account_cannot_open_the_code(alice: User, bob: User) -> None:
    path = qr_link(logged_in(alice))
    response = logged_in(bob).get(path)
    assert response.status_code == 403 and "另一个账号" in response.content.decode()
    assert IdentityHandoff.objects.get().used_at is None  # still the owner's to use
    refused = SecurityEvent.objects.get(user=alice, action="identity_handoff_refused")
    assert refused.detail["by_user"] == bob.pk
    # the owner still can, and bob can neither poll nor see alice's code on his page
    assert logged_in(alice).get(path).status_code == 302
    handoff = IdentityHandoff.objects.get()
    assert logged_in(bob).get(f"/me/identity/handoff/{handoff.pk}/status/").status_code == 404
    assert path not in logged_in(bob).get("/me/identity/").content.decode()


def test_attacker_an_expired_code(alice: User) -> None:
    computer = logged_in(alice)
    path = qr_link(computer)
    IdentityHandoff.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    for client in (logged_in(alice), Client()):
        response = client.get(path)
        assert response.status_code == 410 and "已过期" in response.content.decode()
    assert poll(computer) == {"state": "expired"}
    # a reload of the computer's page shows a new code
    assert qr_link(computer) != path
    # a token whose signed timestamp is older than the lifetime is refused whatever the row says
    nonce = secrets.token_urlsafe(32)
    IdentityHandoff.objects.create(
        user=alice,
        nonce_hash=nonce_hash(nonce),
        expires_at=timezone.now() + dt.timedelta(minutes=10),
    )
    signer = signing.TimestampSigner(salt="qianshu.identity.handoff", sep=".")
    value = f"{nonce}.{signing.b62_encode(int(time.time()) - 11 * 60)}"
    stale = f"{value}.{signer.signature(value)}"
    response = logged_in(alice).get(f"/me/identity/handoff/{stale}/")
    assert response.status_code == 410


@pytest.mark.parametrize("part", ["nonce", "timestamp", "signature", "salt"])
def test_attacker_a_tampered_code_is_refused(alice: User, part: str) -> None:
    token = token_of(qr_link(logged_in(alice)))
    nonce, stamp, mac = token.split(".")

    def flip(text: str) -> str:
        return ("A" if text[0] != "A" else "B") + text[1:]

    tampered = {
        "nonce": f"{flip(nonce)}.{stamp}.{mac}",
        "timestamp": f"{nonce}.{flip(stamp)}.{mac}",
        "signature": f"{nonce}.{stamp}.{flip(mac)}",
        # signed right, but for another purpose
        "salt": signing.TimestampSigner(salt="qianshu.other", sep=".").sign(nonce),
    }[part]
    for client in (Client(), logged_in(alice)):
        response = client.get(f"/me/identity/handoff/{tampered}/")
        assert response.status_code == 404 and "二维码无效" in response.content.decode()
    assert IdentityHandoff.objects.get().used_at is None


def test_no_code_for_a_verified_person_and_a_cap_on_new_codes(alice: User, bob: User) -> None:
    RateLimit.objects.create(
        key=f"identity-handoff:user:{bob.pk}", window_start=timezone.now(), count=HANDOFFS_PER_HOUR
    )
    page = logged_in(bob).get("/me/identity/").content.decode()
    assert "二维码生成过于频繁" in page and "identity-handoff-qr" not in page
    client = logged_in(alice)
    verify_with_bank4(client)
    page = client.get("/me/identity/").content.decode()
    assert "identity-handoff" not in page


def test_attacker_the_computer_never_moves_on_to_another_site(alice: User) -> None:
    computer = logged_in(alice)
    computer.get("/me/identity/?next=https://evil.example/")
    path = qr_link(computer)
    phone = logged_in(alice)
    phone.get(path)
    verify_with_bank4(phone)
    assert poll(computer) == {"state": "verified", "next": "/me/identity/"}
