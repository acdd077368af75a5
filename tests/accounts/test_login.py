"""SMS-code and password login, logout, sessions, re-authentication and profile changes."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client
from django.utils import timezone

from qianshu.accounts import codes
from qianshu.accounts.models import OneTimeCode, RateLimit, SecurityEvent, User
from qianshu.accounts.phones import normalize_phone
from qianshu.notifications.models import OutboxMessage
from tests.support.accounts import PERSONAS, latest_sms, make_user, sms_code

pytestmark = pytest.mark.django_db

ALICE = PERSONAS["alice"]


@pytest.fixture(autouse=True)
def _keep_codes(settings):  # type: ignore[no-untyped-def]
    settings.QIANSHU_OUTBOX_KEEP_SENSITIVE = True


def send(client: Client, phone: str, *, fetch: bool = True, ip: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    headers = {"X-Requested-With": "fetch"} if fetch else {}
    return client.post(
        "/login/", {"action": "send", "phone": phone}, headers=headers, REMOTE_ADDR=ip
    )


def login(client: Client, phone: str, code: str, *, ip: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    return client.post("/login/", {"action": "login", "phone": phone, "code": code}, REMOTE_ADDR=ip)


def age_codes(phone: str, seconds: int) -> None:
    """Move the codes of ``phone`` and its send limits into the past."""
    delta = dt.timedelta(seconds=seconds)
    for row in OneTimeCode.objects.filter(phone=phone):
        row.created_at -= delta
        row.expires_at -= delta
        row.save()
    for limit in RateLimit.objects.filter(key__contains=phone):
        limit.window_start -= delta
        if limit.last_at:
            limit.last_at -= delta
        limit.save()


# --- phone numbers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800000001", "13800000001"),
        ("138 0000 0001", "13800000001"),
        ("+86 138-0000-0001", "13800000001"),
        ("008613800000001", "13800000001"),
        ("+85291234567", "+85291234567"),
    ],
)
def test_phone_numbers_are_normalised(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "12345", "12800000001", "1380000000a", "+86123", "phone"])
def test_bad_phone_numbers_are_refused(raw: str) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        normalize_phone(raw)


# --- SMS code login ----------------------------------------------------------------------


def test_first_login_creates_the_account_and_rotates_the_session() -> None:
    client = Client()
    client.get("/login/")
    response = send(client, ALICE)
    assert response.status_code == 200 and response.json()["ok"]
    message = latest_sms(ALICE, "login_code")
    assert "验证码" in message.body and message.sensitive
    before = client.session.session_key
    response = login(client, ALICE, sms_code(ALICE))
    assert response.status_code == 302 and response["Location"] == "/me/"
    user = User.objects.get(phone=ALICE)
    assert not user.has_usable_password()
    assert client.session.session_key != before
    assert str(client.session["_auth_user_id"]) == str(user.pk)
    assert SecurityEvent.objects.filter(user=user, action="login").exists()
    assert client.get("/me/").status_code == 200


def test_login_with_next_url() -> None:
    client = Client()
    page = client.get("/login/?next=/me/email/").content.decode()
    assert 'name="next" value="/me/email/"' in page
    send(client, ALICE)
    response = client.post(
        "/login/",
        {"action": "login", "phone": ALICE, "code": sms_code(ALICE), "next": "/me/email/"},
    )
    assert response["Location"] == "/me/email/"


def test_next_url_to_another_host_is_ignored() -> None:
    client = Client()
    send(client, ALICE)
    response = client.post(
        "/login/",
        {
            "action": "login",
            "phone": ALICE,
            "code": sms_code(ALICE),
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == "/me/"


def test_existing_account_logs_in_with_code() -> None:
    alice = make_user("alice")
    client = Client()
    send(client, ALICE)
    assert login(client, ALICE, sms_code(ALICE)).status_code == 302
    assert User.objects.count() == 1
    assert str(client.session["_auth_user_id"]) == str(alice.pk)


def test_wrong_code_fails_without_creating_an_account() -> None:
    client = Client()
    send(client, ALICE)
    good = sms_code(ALICE)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    response = login(client, ALICE, wrong)
    assert response.status_code == 400
    assert "验证码错误或已失效" in response.content.decode()
    assert not User.objects.exists()
    assert "_auth_user_id" not in client.session


def test_expired_code_fails() -> None:
    client = Client()
    send(client, ALICE)
    code = sms_code(ALICE)
    age_codes(ALICE, 301)
    response = login(client, ALICE, code)
    assert response.status_code == 400 and not User.objects.exists()


def test_code_is_single_use() -> None:
    client = Client()
    send(client, ALICE)
    code = sms_code(ALICE)
    assert login(client, ALICE, code).status_code == 302
    other = Client()
    assert login(other, ALICE, code).status_code == 400


def test_code_for_another_purpose_or_phone_fails() -> None:
    alice = make_user("alice")
    codes.issue_code(ALICE, codes.Purpose.REAUTH)
    reauth_code = sms_code(ALICE)
    client = Client()
    assert login(client, ALICE, reauth_code).status_code == 400
    # Alice's login code does not log Bob in.
    send(client, ALICE, ip="10.0.0.2")
    assert login(client, PERSONAS["bob"], sms_code(ALICE)).status_code == 400
    assert User.objects.filter(pk=alice.pk).count() == 1 and User.objects.count() == 1


def test_a_new_code_replaces_the_previous_one() -> None:
    client = Client()
    send(client, ALICE)
    first = sms_code(ALICE)
    age_codes(ALICE, 61)
    send(client, ALICE)
    second = sms_code(ALICE)
    if first != second:
        assert login(client, ALICE, first).status_code == 400
    assert login(client, ALICE, second).status_code == 302


def test_one_code_per_minute_per_phone() -> None:
    client = Client()
    assert send(client, ALICE).status_code == 200
    response = send(client, ALICE)
    assert response.status_code == 429
    body = response.json()
    assert not body["ok"] and 0 < body["retry_after"] <= 60 and "秒后" in body["message"]
    assert OutboxMessage.objects.filter(recipient=ALICE).count() == 1
    age_codes(ALICE, 61)
    assert send(client, ALICE).status_code == 200


def test_hourly_cap_per_phone_holds() -> None:
    client = Client()
    sent = 0
    for i in range(15):
        sent += send(client, ALICE, ip=f"10.1.0.{i}").status_code == 200
        # step past the 60-second cooldown without leaving the hourly window
        RateLimit.objects.filter(key__startswith=f"sms-send:cooldown:{ALICE}:").update(
            last_at=timezone.now() - dt.timedelta(seconds=61)
        )
    assert sent == 10
    assert OutboxMessage.objects.filter(recipient=ALICE).count() == 10


def test_ip_cap_holds_under_a_burst_of_requests() -> None:
    client = Client()
    statuses = [send(client, f"1390000{i:04d}", ip="192.0.2.7").status_code for i in range(40)]
    assert statuses.count(200) == 30 and statuses.count(429) == 10
    assert OutboxMessage.objects.count() == 30
    # another client address is not affected
    assert send(client, "13700000000", ip="192.0.2.8").status_code == 200


def test_lockout_after_five_wrong_codes() -> None:
    client = Client()
    send(client, ALICE)
    good = sms_code(ALICE)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert login(client, ALICE, wrong).status_code == 400
    response = login(client, ALICE, good)
    assert response.status_code == 400 and "错误次数过多" in response.content.decode()
    # a fresh code does not help while locked, and sending is refused too
    assert send(client, ALICE, ip="10.9.9.9").status_code == 429
    # after 15 minutes the phone works again
    age_codes(ALICE, 15 * 60 + 1)
    assert send(client, ALICE).status_code == 200
    assert login(client, ALICE, sms_code(ALICE)).status_code == 302


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_lockout_holds_under_parallel_guessing() -> None:
    codes.issue_code(ALICE, codes.Purpose.LOGIN)

    def guess(i: int) -> str:
        try:
            codes.check_code(ALICE, codes.Purpose.LOGIN, f"{i:06d}", ip="198.51.100.1")
        except codes.CodeLocked:
            return "locked"
        except codes.CodeInvalid:
            return "invalid"
        return "ok"

    real = sms_code(ALICE)
    guesses = [i for i in range(30) if f"{i:06d}" != real][:24]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(guess, guesses))
    assert "ok" not in results
    assert results.count("invalid") <= 5 + 4  # at most one in-flight guess per worker beyond 5
    with pytest.raises(codes.CodeLocked):
        codes.check_code(ALICE, codes.Purpose.LOGIN, real)


def test_responses_do_not_reveal_whether_an_account_exists() -> None:
    make_user("alice")
    client = Client()
    known = send(client, ALICE, ip="10.2.0.1").json()
    unknown = send(client, "13911112222", ip="10.2.0.2").json()
    assert known == unknown
    bad_known = login(client, ALICE, "000000").content.decode()
    bad_unknown = login(client, "13911112222", "000000").content.decode()
    assert "验证码错误或已失效" in bad_known and "验证码错误或已失效" in bad_unknown


def test_send_without_javascript_renders_the_page() -> None:
    client = Client()
    response = send(client, ALICE, fetch=False)
    assert response.status_code == 200
    page = response.content.decode()
    assert "验证码已发送" in page and f'value="{ALICE}"' in page


def test_bad_phone_gets_a_message() -> None:
    response = send(Client(), "12345")
    assert response.status_code == 429 or response.status_code == 400
    assert "请输入正确的手机号码" in response.json()["message"]
    assert not OutboxMessage.objects.exists()


def test_inactive_account_cannot_log_in() -> None:
    make_user("alice", is_active=False)
    client = Client()
    send(client, ALICE)
    response = login(client, ALICE, sms_code(ALICE))
    assert response.status_code == 400 and "已停用" in response.content.decode()


# --- password login -------------------------------------------------------------------------


def test_password_login_and_same_error_for_unknown_phone() -> None:
    make_user("alice", password="correct horse battery")
    client = Client()
    ok = client.post("/login/password/", {"phone": ALICE, "password": "correct horse battery"})
    assert ok.status_code == 302
    other = Client()
    wrong = other.post("/login/password/", {"phone": ALICE, "password": "nope"}).content.decode()
    unknown = other.post(
        "/login/password/", {"phone": "13911112222", "password": "nope"}
    ).content.decode()
    assert "手机号或密码错误" in wrong and "手机号或密码错误" in unknown


def test_password_login_locks_after_five_failures() -> None:
    make_user("alice", password="correct horse battery")
    client = Client()
    for _ in range(5):
        client.post("/login/password/", {"phone": ALICE, "password": "wrong"})
    response = client.post(
        "/login/password/", {"phone": ALICE, "password": "correct horse battery"}
    )
    assert response.status_code == 400 and "错误次数过多" in response.content.decode()


def test_sms_only_account_cannot_log_in_by_password() -> None:
    make_user("alice")
    response = Client().post("/login/password/", {"phone": ALICE, "password": ""})
    assert response.status_code == 400


# --- logout and sessions ----------------------------------------------------------------------


def test_logout_needs_post_and_ends_the_session() -> None:
    alice = make_user("alice")
    client = Client()
    client.force_login(alice)
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/me/").status_code == 302


def test_log_out_other_sessions() -> None:
    alice = make_user("alice")
    phone_client, desktop_client = Client(), Client()
    phone_client.force_login(alice)
    desktop_client.force_login(alice)
    response = desktop_client.post("/me/sessions/logout-others/")
    assert response.status_code == 302
    assert desktop_client.get("/me/").status_code == 200
    assert phone_client.get("/me/").status_code == 302  # sent to the login page
    assert SecurityEvent.objects.filter(user=alice, action="logout_other_sessions").exists()


# --- re-authentication and changes ----------------------------------------------------------


def logged_in(user: User, *, fresh: bool = False) -> Client:
    client = Client()
    client.force_login(user)
    if not fresh:
        session = client.session
        session.pop("qianshu_reauth_at", None)
        session.save()
    return client


def test_changing_phone_requires_reauthentication() -> None:
    alice = make_user("alice")
    client = logged_in(alice)
    response = client.get("/me/phone/")
    assert response.status_code == 302 and response["Location"].startswith("/me/reauth/")
    client.post("/me/reauth/", {"action": "send"}, headers={"X-Requested-With": "fetch"})
    response = client.post("/me/reauth/", {"code": sms_code(ALICE), "next": "/me/phone/"})
    assert response.status_code == 302 and response["Location"] == "/me/phone/"
    assert client.get("/me/phone/").status_code == 200


def test_reauth_with_wrong_code_fails() -> None:
    alice = make_user("alice")
    client = logged_in(alice)
    client.post("/me/reauth/", {"action": "send"}, headers={"X-Requested-With": "fetch"})
    wrong = f"{(int(sms_code(ALICE)) + 1) % 1_000_000:06d}"
    assert client.post("/me/reauth/", {"code": wrong}).status_code == 400
    assert client.get("/me/phone/").status_code == 302


def test_reauth_with_password() -> None:
    alice = make_user("alice", password="correct horse battery")
    client = logged_in(alice)
    response = client.post(
        "/me/reauth/",
        {"action": "password", "password": "correct horse battery", "next": "/me/email/"},
    )
    assert response["Location"] == "/me/email/"


def test_change_phone_confirms_the_new_number_and_ends_other_sessions() -> None:
    alice = make_user("alice")
    other_device = logged_in(alice)
    client = logged_in(alice, fresh=True)
    client.get("/me/")  # the fresh flag is set by login(); force_login does not
    session = client.session
    session["qianshu_reauth_at"] = int(timezone.now().timestamp())
    session.save()
    new = "13900000009"
    response = client.post(
        "/me/phone/", {"action": "send", "phone": new}, headers={"X-Requested-With": "fetch"}
    )
    assert response.json()["ok"]
    assert latest_sms(new, "change_phone_code")
    response = client.post("/me/phone/", {"action": "change", "phone": new, "code": "000000"})
    assert response.status_code == 400
    response = client.post("/me/phone/", {"action": "change", "phone": new, "code": sms_code(new)})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.phone == new
    assert client.get("/me/").status_code == 200
    assert other_device.get("/me/").status_code == 302


def test_cannot_take_another_accounts_phone() -> None:
    alice, bob = make_user("alice"), make_user("bob")
    client = logged_in(alice)
    session = client.session
    session["qianshu_reauth_at"] = int(timezone.now().timestamp())
    session.save()
    bob_phone = bob.phone
    client.post(
        "/me/phone/", {"action": "send", "phone": bob_phone}, headers={"X-Requested-With": "fetch"}
    )
    response = client.post(
        "/me/phone/", {"action": "change", "phone": bob_phone, "code": sms_code(bob_phone)}
    )
    assert response.status_code == 400 and "无法使用" in response.content.decode()
    alice.refresh_from_db()
    assert alice.phone == ALICE


def test_change_email_notifies_the_old_address() -> None:
    alice = make_user("alice", email="alice@example.org")
    client = logged_in(alice)
    session = client.session
    session["qianshu_reauth_at"] = int(timezone.now().timestamp())
    session.save()
    assert client.post("/me/email/", {"email": "not-an-email"}).status_code == 400
    assert client.post("/me/email/", {"email": "alice@new.example"}).status_code == 302
    alice.refresh_from_db()
    assert alice.email == "alice@new.example"
    notice = OutboxMessage.objects.get(channel="email", kind="email_changed")
    assert notice.recipient == "alice@example.org"


def test_set_password_checks_strength_and_match() -> None:
    alice = make_user("alice")
    client = logged_in(alice)
    session = client.session
    session["qianshu_reauth_at"] = int(timezone.now().timestamp())
    session.save()
    weak = client.post("/me/password/", {"password1": "12345678", "password2": "12345678"})
    assert weak.status_code == 400
    mismatch = client.post(
        "/me/password/", {"password1": "correct horse 1", "password2": "correct horse 2"}
    )
    assert mismatch.status_code == 400 and "不一致" in mismatch.content.decode()
    ok = client.post(
        "/me/password/", {"password1": "correct horse 1", "password2": "correct horse 1"}
    )
    assert ok.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("correct horse 1")


def test_user_centre_needs_login() -> None:
    for url in ["/me/", "/me/phone/", "/me/email/", "/me/password/", "/me/reauth/"]:
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_language_switch_is_remembered() -> None:
    alice = make_user("alice")
    client = logged_in(alice)
    response = client.post("/language/", {"language": "en", "next": "/me/"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.language == "en"
    assert client.get("/me/").headers["Content-Language"] == "en"
