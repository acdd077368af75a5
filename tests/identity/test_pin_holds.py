"""A new signing key waits after a phone change (``QIANSHU_PIN_RESET_HOLD_HOURS``), and the old
phone is told: taking over a phone (a SIM swap, an operator) does not give a new key at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from qianshu.accounts.models import RateLimit, User
from qianshu.core.meta import TASK
from qianshu.identity.actions import do_reset_signing_pin, do_send_pin_reset_code
from qianshu.identity.errors import ResetHeld
from qianshu.identity.holds import new_key_held_until, pin_reset_held_until
from qianshu.identity.models import SigningCredential
from qianshu.notifications.models import OutboxMessage
from tests.identity.helpers import GOOD_ID
from tests.identity.test_pin import set_pin, verified_alice
from tests.support.accounts import sms_code

pytestmark = pytest.mark.django_db

__all__ = ["verified_alice"]  # the fixture

NEW_PHONE = "13900000077"


@pytest.fixture
def alice_with_pin(verified_alice: Client) -> Client:
    assert set_pin(verified_alice).status_code == 302
    return verified_alice


def change_own_phone(client: Client, alice: User) -> None:
    client.post(
        "/me/phone/",
        {"action": "send", "phone": NEW_PHONE},
        headers={"X-Requested-With": "fetch"},
    )
    response = client.post(
        "/me/phone/", {"action": "change", "phone": NEW_PHONE, "code": sms_code(NEW_PHONE)}
    )
    assert response.status_code == 302
    alice.refresh_from_db()


def test_own_phone_change_tells_both_phones_and_holds_the_reset(
    alice_with_pin: Client, alice: User, settings: Any
) -> None:
    old_phone = alice.phone
    change_own_phone(alice_with_pin, alice)
    told = OutboxMessage.objects.get(recipient=old_phone, kind="phone_changed")
    assert "139****0077" in told.body
    assert OutboxMessage.objects.filter(recipient=NEW_PHONE, kind="phone_bound").exists()
    until = pin_reset_held_until(alice)
    assert until == alice.phone_changed_at + dt.timedelta(
        hours=settings.QIANSHU_PIN_RESET_HOLD_HOURS
    )
    # a person's own change does not hold SMS-code signing or a first PIN
    assert new_key_held_until(alice) is None

    html = alice_with_pin.get("/me/identity/pin/reset/").content.decode()
    assert 'data-testid="pin-reset-held"' in html and "pin-reset-form" not in html
    assert timezone.localtime(until).strftime("%Y-%m-%d %H:%M") in html
    refused = alice_with_pin.post(
        "/me/identity/pin/reset/", {"action": "send"}, headers={"X-Requested-With": "fetch"}
    )
    assert refused.status_code == 429 and "之后才能重置签署密码" in refused.json()["message"]
    assert not OutboxMessage.objects.filter(kind="pin_reset_code").exists()
    with pytest.raises(ResetHeld):
        do_send_pin_reset_code(actor=alice, meta=TASK)
    with pytest.raises(ResetHeld):
        do_reset_signing_pin("123456", GOOD_ID, "730518", actor=alice, meta=TASK)
    assert SigningCredential.objects.filter(user=alice).count() == 1


def test_reset_works_again_after_the_hold(alice_with_pin: Client, alice: User) -> None:
    change_own_phone(alice_with_pin, alice)
    User.objects.filter(pk=alice.pk).update(
        phone_changed_at=timezone.now() - dt.timedelta(hours=72, minutes=1)
    )
    alice.refresh_from_db()
    assert pin_reset_held_until(alice) is None
    RateLimit.objects.filter(key__startswith="sms-send:").delete()
    sent = alice_with_pin.post(
        "/me/identity/pin/reset/", {"action": "send"}, headers={"X-Requested-With": "fetch"}
    )
    assert sent.json()["ok"]
    response = alice_with_pin.post(
        "/me/identity/pin/reset/",
        {
            "action": "reset",
            "code": sms_code(NEW_PHONE, "pin_reset_code"),
            "id_number": GOOD_ID,
            "pin1": "730518",
            "pin2": "730518",
            "next": "/envelopes/",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/envelopes/"
    assert SigningCredential.objects.filter(user=alice).count() == 2


def test_after_five_wrong_id_numbers_even_the_right_one_is_refused(
    alice_with_pin: Client, alice: User
) -> None:
    from qianshu.identity.actions.credentials import RESET_ID_FAILURES

    key = f"pin-reset-id:user:{alice.pk}"
    RateLimit.objects.create(key=key, window_start=timezone.now(), count=RESET_ID_FAILURES)
    alice_with_pin.post("/me/identity/pin/reset/", {"action": "send"})
    response = alice_with_pin.post(
        "/me/identity/pin/reset/",
        {
            "action": "reset",
            "code": sms_code(alice.phone, "pin_reset_code"),
            "id_number": GOOD_ID,
            "pin1": "730518",
            "pin2": "730518",
        },
    )
    assert response.status_code == 400 and "错误次数过多" in response.content.decode()
    assert SigningCredential.objects.filter(user=alice).count() == 1
