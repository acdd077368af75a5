"""Attempt counters that hold under attack.

- Item 5: a wrong password (login and re-authentication) and a wrong signing PIN are counted
  *before* they are checked, so 30 parallel guesses get at most five evaluations (PostgreSQL,
  real threads, each with its own connection).
- Item 8: wrong SMS codes lock a phone only when a code was sent to it; a stranger guessing
  codes for a phone that has none spends only their own address's allowance.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from qianshu.accounts import codes, throttles
from qianshu.accounts.models import RateLimit, SecurityEvent
from qianshu.core.meta import TASK
from tests.support.accounts import PERSONAS, make_user, sms_code

ALICE = PERSONAS["alice"]
TRIES = 30
SLOW_HASHER = "tests.support.hashers.SlowPBKDF2PasswordHasher"


@pytest.fixture(autouse=True)
def _keep_codes(settings: Any) -> None:
    settings.QIANSHU_OUTBOX_KEEP_SENSITIVE = True


def send(client: Client, phone: str, *, ip: str) -> Any:
    return client.post(
        "/login/",
        {"action": "send", "phone": phone},
        headers={"X-Requested-With": "fetch"},
        REMOTE_ADDR=ip,
    )


def login(client: Client, phone: str, code: str, *, ip: str) -> Any:
    return client.post("/login/", {"action": "login", "phone": phone, "code": code}, REMOTE_ADDR=ip)


def outcome(html: str, wrong: str) -> str:
    """ "locked" (refused unchecked), "wrong" (checked and wrong) or "other"."""
    if "错误次数过多" in html:
        return "locked"
    return "wrong" if wrong in html else "other"


def sessions_of(user: Any, count: int) -> list[Client]:
    clients = []
    for _ in range(count):
        client = Client()
        client.force_login(user)
        clients.append(client)
    return clients


def in_parallel(count: int, attempt: Callable[[int], str]) -> list[str]:
    """Run ``attempt(i)`` in ``count`` threads released together; each thread has its own
    database connection (Django's are per thread) and closes it at the end."""
    barrier = threading.Barrier(count)
    results = ["not run"] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[index] = attempt(index)
        except BaseException as exc:
            results[index] = f"error {exc!r}"
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    return results


# --- item 5: counted before checked (PostgreSQL) ----------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_get_at_most_five_evaluations(settings: Any) -> None:
    settings.PASSWORD_HASHERS = [SLOW_HASHER]
    make_user("alice", password="correct horse battery")

    def guess(i: int) -> str:
        html = (
            Client()
            .post(
                "/login/password/",
                {"phone": ALICE, "password": f"wrong-{i}"},
                REMOTE_ADDR=f"10.7.{i}.1",  # one address each: only the phone's count applies
            )
            .content.decode()
        )
        return outcome(html, "手机号或密码错误")

    results = in_parallel(TRIES, guess)
    assert results.count("wrong") == 5, results
    assert results.count("locked") == TRIES - 5, results
    right = Client().post("/login/password/", {"phone": ALICE, "password": "correct horse battery"})
    assert right.status_code == 400 and "错误次数过多" in right.content.decode()
    assert RateLimit.objects.get(key=f"pw-fail:phone:{ALICE}").count == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_reauth_passwords_get_at_most_five_evaluations(settings: Any) -> None:
    settings.PASSWORD_HASHERS = [SLOW_HASHER]
    alice = make_user("alice", password="correct horse battery")
    clients = sessions_of(alice, TRIES)

    def guess(i: int) -> str:
        response = clients[i].post("/me/reauth/", {"action": "password", "password": f"w{i}"})
        return outcome(response.content.decode(), "密码错误")

    results = in_parallel(TRIES, guess)
    assert results.count("wrong") == 5, results
    assert results.count("locked") == TRIES - 5, results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_signing_pins_get_at_most_five_evaluations(
    settings: Any, tmp_path: Path
) -> None:
    from qianshu.envelopes.actions import compose as compose_actions
    from qianshu.pki.actions import do_init_pki
    from qianshu.storage.blobs import reset_blob_store_cache
    from tests.envelopes.helpers import Builder, seen
    from tests.support.personas import PIN, make_signer

    settings.QIANSHU_STORAGE = "local"
    settings.QIANSHU_STORAGE_DIR = tmp_path / "blobs"
    reset_blob_store_cache()
    do_init_pki(name="测试平台")
    alice, bob = make_signer("alice"), make_signer("bob")
    envelope = Builder().draft(alice, [("sign", 1, bob)], pages=1)
    compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
    recipient = envelope.recipients.get()
    body = {
        "recipient": recipient.pk,
        "seen": {str(k): v for k, v in seen(envelope).items()},
        "fields": [{"field": f.pk} for f in recipient.fields.all()],
    }
    clients = sessions_of(bob, TRIES)
    submit_url = reverse("envelopes:sign-submit", args=[envelope.uuid])

    def guess(i: int) -> str:
        payload = {**body, "key": uuid.uuid4().hex, "pin": f"{900001 + i}"}
        response = clients[i].post(submit_url, json.dumps(payload), content_type="application/json")
        message = response.json().get("message", "")
        return "locked" if "锁定" in message else ("wrong" if "错误" in message else message)

    results = in_parallel(TRIES, guess)
    evaluated = SecurityEvent.objects.filter(
        user=bob, action__in=["signing_pin_wrong", "signing_pin_locked"]
    ).count()
    assert evaluated == 5, results
    assert results.count("wrong") == 4 and results.count("locked") == TRIES - 4, results
    assert PIN not in {f"{900001 + i}" for i in range(TRIES)}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_first_counter_row_is_created_once_under_a_race() -> None:
    def hit(_: int) -> str:
        return "ok" if throttles.hit("race:first-row", limit=5, window=60) else "refused"

    results = in_parallel(TRIES, hit)
    assert results.count("ok") == 5 and results.count("refused") == TRIES - 5, results
    assert RateLimit.objects.filter(key="race:first-row").count() == 1


# --- item 5 on any database: the order of counting --------------------------------------------


@pytest.mark.django_db
def test_a_right_password_after_four_wrong_ones_resets_the_count() -> None:
    make_user("alice", password="correct horse battery")
    client = Client()
    for _ in range(4):
        client.post("/login/password/", {"phone": ALICE, "password": "wrong"})
    ok = client.post("/login/password/", {"phone": ALICE, "password": "correct horse battery"})
    assert ok.status_code == 302
    assert not RateLimit.objects.filter(key=f"pw-fail:phone:{ALICE}").exists()
    # a successful login is not charged to the client address
    assert RateLimit.objects.get(key="pw-fail:ip:127.0.0.1").count == 4


# --- item 8: a phone is locked only by guesses against a code sent to it -----------------------


@pytest.mark.django_db
def test_a_stranger_guessing_codes_cannot_lock_alice_out() -> None:
    make_user("alice")
    stranger = Client()
    for i in range(12):
        response = login(stranger, ALICE, f"{i:06d}", ip="203.0.113.9")
        assert response.status_code == 400
        assert "验证码错误或已失效" in response.content.decode()
    assert not RateLimit.objects.filter(key=f"code-fail:phone:{ALICE}").exists()
    assert RateLimit.objects.get(key="code-fail:ip:203.0.113.9").count == 12
    alice = Client()
    assert send(alice, ALICE, ip="10.0.0.2").status_code == 200
    assert login(alice, ALICE, sms_code(ALICE), ip="10.0.0.2").status_code == 302


@pytest.mark.django_db
def test_guesses_without_a_code_are_still_capped_per_address() -> None:
    stranger = Client()
    for i in range(codes.IP_WRONG_LIMIT):
        assert login(stranger, f"1390000{i:04d}", "123456", ip="203.0.113.10").status_code == 400
    response = login(stranger, "13911110000", "123456", ip="203.0.113.10")
    assert response.status_code == 400 and "错误次数过多" in response.content.decode()
    # nobody else is affected
    assert send(Client(), "13911110000", ip="10.0.0.3").status_code == 200


@pytest.mark.django_db
def test_guessing_against_a_sent_code_burns_it_and_locks_the_phone() -> None:
    make_user("alice")
    assert send(Client(), ALICE, ip="10.0.0.2").status_code == 200
    real = sms_code(ALICE)
    stranger = Client()
    wrong = [c for c in (f"{i:06d}" for i in range(10)) if c != real][:5]
    for guess in wrong:
        assert login(stranger, ALICE, guess, ip="203.0.113.11").status_code == 400
    assert RateLimit.objects.get(key=f"code-fail:phone:{ALICE}").count == 5
    response = login(Client(), ALICE, real, ip="10.0.0.2")
    assert response.status_code == 400 and "错误次数过多" in response.content.decode()


@pytest.mark.django_db
def test_a_code_for_another_purpose_does_not_count_for_this_one() -> None:
    """Alice's login code is outstanding; guesses at a re-authentication code (none sent) do
    not lock her phone."""
    make_user("alice")
    codes.issue_code(ALICE, codes.Purpose.LOGIN)
    for i in range(6):
        with pytest.raises(codes.CodeInvalid):
            codes.check_code(ALICE, codes.Purpose.REAUTH, f"{i:06d}", ip="203.0.113.12")
    codes.check_code(ALICE, codes.Purpose.LOGIN, sms_code(ALICE), ip="10.0.0.2")
