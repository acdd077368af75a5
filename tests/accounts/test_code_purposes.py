"""SMS codes of different purposes to one phone: each is sent (the 60 s wait is per purpose),
none serves another purpose, and the hourly cap of the phone covers them all (issue 12, 1)."""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from qianshu.accounts import codes
from qianshu.accounts.models import RateLimit, User
from qianshu.accounts.sessions import REAUTH_SESSION_KEY
from qianshu.notifications.models import OutboxMessage
from tests.support.accounts import PERSONAS, make_user, sms_code

pytestmark = pytest.mark.django_db

ALICE = PERSONAS["alice"]
NEW_PHONE = "13700000077"
FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture(autouse=True)
def _keep_codes(settings: Any) -> None:
    settings.QIANSHU_OUTBOX_KEEP_SENSITIVE = True


def send_login(client: Client, phone: str, ip: str = "10.0.0.1") -> Any:
    return client.post("/login/", {"action": "send", "phone": phone}, headers=FETCH, REMOTE_ADDR=ip)


def send_reauth(client: Client) -> Any:
    return client.post("/me/reauth/", {"action": "send"}, headers=FETCH)


def reauthed(client: Client) -> Client:
    session = client.session
    session[REAUTH_SESSION_KEY] = int(time.time())
    session.save()
    return client


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def sms_count(phone: str, kind: str) -> int:
    return OutboxMessage.objects.filter(recipient=phone, kind=kind).count()


def past_cooldowns() -> None:
    RateLimit.objects.filter(key__startswith="sms-send:cooldown:").update(
        last_at=timezone.now() - dt.timedelta(seconds=61)
    )


def test_a_login_code_does_not_hold_up_the_reauth_code() -> None:
    alice = make_user("alice")
    assert send_login(Client(), ALICE).status_code == 200
    response = send_reauth(logged_in(alice))
    assert response.status_code == 200, response.content
    assert response.json()["ok"] and "秒后" not in response.json()["message"]
    assert sms_count(ALICE, "login_code") == 1 and sms_count(ALICE, "reauth_code") == 1


def test_the_same_purpose_within_a_minute_says_truthfully_a_code_was_sent() -> None:
    alice = make_user("alice")
    client = logged_in(alice)
    assert send_reauth(client).status_code == 200
    again = send_reauth(client)
    body = again.json()
    assert again.status_code == 429 and 0 < body["retry_after"] <= 60
    assert "验证码已发送" in body["message"]
    assert sms_count(ALICE, "reauth_code") == 1
    past_cooldowns()
    assert send_reauth(client).status_code == 200
    assert sms_count(ALICE, "reauth_code") == 2


def test_a_login_code_for_the_new_phone_does_not_hold_up_the_change_phone_code() -> None:
    alice = make_user("alice")
    assert send_login(Client(), NEW_PHONE).status_code == 200
    client = reauthed(logged_in(alice))
    response = client.post("/me/phone/", {"action": "send", "phone": NEW_PHONE}, headers=FETCH)
    assert response.status_code == 200 and response.json()["ok"], response.content
    assert sms_count(NEW_PHONE, "change_phone_code") == 1


def test_attacker_a_login_code_does_not_move_an_account_to_the_phone() -> None:
    """Holding the login code of a phone (it is one's own phone) must not complete a phone change
    without the change-phone code that was sent for this account."""
    alice = make_user("alice")
    client = reauthed(logged_in(alice))
    client.post("/me/phone/", {"action": "send", "phone": NEW_PHONE}, headers=FETCH)
    send_login(Client(), NEW_PHONE)
    login_code = sms_code(NEW_PHONE, "login_code")
    change_code = sms_code(NEW_PHONE, "change_phone_code")
    if login_code != change_code:
        response = client.post("/me/phone/", {"phone": NEW_PHONE, "code": login_code})
        assert response.status_code == 400
        alice.refresh_from_db()
        assert alice.phone == ALICE


def test_attacker_a_change_phone_code_is_bound_to_the_account_that_asked_for_it() -> None:
    alice, bob = make_user("alice"), make_user("bob")
    reauthed(logged_in(alice)).post(
        "/me/phone/", {"action": "send", "phone": NEW_PHONE}, headers=FETCH
    )
    code = sms_code(NEW_PHONE, "change_phone_code")
    bob_client = reauthed(logged_in(bob))
    response = bob_client.post("/me/phone/", {"phone": NEW_PHONE, "code": code})
    assert response.status_code == 400
    bob.refresh_from_db()
    assert bob.phone == PERSONAS["bob"]


def test_attacker_a_login_code_does_not_reauthenticate_and_a_reauth_code_does_not_log_in() -> None:
    alice = make_user("alice")
    send_login(Client(), ALICE)
    login_code = sms_code(ALICE, "login_code")
    client = logged_in(alice)
    send_reauth(client)
    reauth_code = sms_code(ALICE, "reauth_code")
    if login_code != reauth_code:
        response = client.post("/me/reauth/", {"action": "code", "code": login_code})
        assert response.status_code == 400
        assert REAUTH_SESSION_KEY not in client.session
        stranger = Client()
        response = stranger.post(
            "/login/", {"action": "login", "phone": ALICE, "code": reauth_code}
        )
        assert response.status_code == 400 and "_auth_user_id" not in stranger.session
    # each code still does its own job
    assert client.post("/me/reauth/", {"action": "code", "code": reauth_code}).status_code == 302
    other = Client()
    assert (
        other.post("/login/", {"action": "login", "phone": ALICE, "code": login_code}).status_code
        == 302
    )


def test_the_hourly_cap_of_a_phone_counts_every_purpose_and_a_refusal_sends_nothing(
    settings: Any,
) -> None:
    settings.QIANSHU_SMS_LIMITS = {"per_phone_hour": 3, "per_ip_hour": 100}
    alice = make_user("alice")
    client = logged_in(alice)
    assert send_login(Client(), ALICE).status_code == 200
    assert send_reauth(client).status_code == 200
    past_cooldowns()
    assert send_login(Client(), ALICE).status_code == 200
    past_cooldowns()
    refused = send_reauth(client)
    body = refused.json()
    assert refused.status_code == 429 and "过于频繁" in body["message"] and body["retry_after"] > 60
    assert OutboxMessage.objects.filter(recipient=ALICE).count() == 3
    # the refusal left no cooldown behind: the next refusal still names the cap, not a code
    again = send_reauth(client).json()
    assert "过于频繁" in again["message"] and "验证码已发送" not in again["message"]


def test_a_used_code_does_not_hold_up_the_next_one_of_its_purpose() -> None:
    """Logged in on the computer, then at once on the phone: the first code was used, so a new
    one is sent (no untrue '验证码已发送'); an unused one still holds the next for 60 s."""
    computer, phone = Client(), Client()
    assert send_login(computer, ALICE).status_code == 200
    code = sms_code(ALICE, "login_code")
    login = {"action": "login", "phone": ALICE, "code": code}
    assert computer.post("/login/", login).status_code == 302
    assert send_login(phone, ALICE).status_code == 200
    assert sms_count(ALICE, "login_code") == 2
    refused = send_login(phone, ALICE)
    assert refused.status_code == 429 and "验证码已发送" in refused.json()["message"]
    assert sms_count(ALICE, "login_code") == 2


def test_attacker_burning_a_code_with_wrong_guesses_does_not_lift_the_limits() -> None:
    """Five wrong codes use a code up; the lockout of the phone then refuses a new one."""
    client = Client()
    send_login(client, ALICE)
    good = sms_code(ALICE, "login_code")
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    for _ in range(5):
        client.post("/login/", {"action": "login", "phone": ALICE, "code": wrong})
    refused = send_login(client, ALICE, ip="10.0.0.9")
    assert refused.status_code == 429 and "错误次数过多" in refused.json()["message"]
    assert sms_count(ALICE, "login_code") == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_sends_of_one_purpose_send_one_code_and_all_purposes_keep_the_cap(
    settings: Any,
) -> None:
    settings.QIANSHU_SMS_LIMITS = {"per_phone_hour": 3, "per_ip_hour": 1000}

    def send(purpose: str) -> bool:
        try:
            codes.issue_code(ALICE, purpose)
        except codes.CodeRateLimited:
            return False
        finally:
            connection.close()  # each worker thread has its own connection
        return True

    with ThreadPoolExecutor(max_workers=4) as pool:
        sent = list(pool.map(send, [codes.Purpose.LOGIN] * 8))
    assert sent.count(True) == 1 and sms_count(ALICE, "login_code") == 1
    others = [codes.Purpose.REAUTH, codes.Purpose.PIN_RESET, codes.Purpose.IDENTITY_PHONE] * 2
    with ThreadPoolExecutor(max_workers=4) as pool:
        sent = list(pool.map(send, others))
    assert sent.count(True) == 2  # the cap of 3 per hour, whatever the purposes
    assert OutboxMessage.objects.filter(recipient=ALICE).count() == 3
