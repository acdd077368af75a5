"""Sole control (issue 10 item 3): a person who has a signing credential confirms only with the
PIN — on the signing page, in 批量签署 and for a seal — and the SMS-code path (one-time event
certificate) is only for signers without one, on envelopes that allow it. Tried as an attacker
would: a PIN holder (or whoever holds their phone) asking for an SMS code, a locked PIN, an
operator who moves the account to a phone they hold."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from qianshu.accounts import codes
from qianshu.accounts.actions import do_save_signature
from qianshu.accounts.models import RateLimit, SecurityEvent, User
from qianshu.accounts.signatures import SignatureImage
from qianshu.core.meta import TASK
from qianshu.envelopes import access, batch, confirmations, turns
from qianshu.envelopes.actions import batch as batch_actions
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.errors import ConfirmationError
from qianshu.envelopes.links import recipient_token
from qianshu.envelopes.models import AuditEvent, Envelope, Recipient
from qianshu.identity.models import SigningCredential
from qianshu.notifications.models import OutboxMessage
from tests.envelopes.helpers import next_phone, seen
from tests.envelopes.test_batch import ask_batch_code, items_for, open_batch
from tests.envelopes.test_sign_views import client_for, page_data, sent, submit, url
from tests.identity.helpers import logged_in
from tests.support.accounts import sms_code
from tests.support.personas import PIN, make_signer, make_verified_person, seal_of, signature_png

pytestmark = pytest.mark.django_db


def seen_json(envelope: Envelope) -> dict[str, str]:
    return {str(k): v for k, v in seen(envelope).items()}


def ask_code(client: Client, envelope: Envelope) -> Any:
    return client.post(
        url("sign-code", envelope),
        json.dumps({"seen": seen_json(envelope)}),
        content_type="application/json",
    )


def planted_code(user: User, envelope: Envelope) -> str:
    """A valid signing code for ``envelope`` sent to ``user``'s phone, as if the platform had
    sent one (what someone holding the phone would have)."""
    RateLimit.objects.filter(key__startswith="sms-send:").delete()  # not the point here
    codes.issue_code(
        user.phone,
        codes.Purpose.SIGN,
        binding=confirmations.confirmation_binding(envelope, seen(envelope)),
    )
    return sms_code(user.phone, "sign_code")


def sign_codes_to(phone: str) -> int:
    return OutboxMessage.objects.filter(recipient=phone, kind="sign_code").count()


def person_without_pin(name: str, real: str) -> User:
    user = make_verified_person(name, next_phone(), real_name=real)
    do_save_signature(
        SignatureImage.from_png(signature_png()), source="drawn", actor=user, meta=TASK
    )
    return user


# --- a PIN holder never confirms by SMS code ---------------------------------------------------


def test_pin_holder_is_never_offered_or_sent_a_signing_code(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob)])
    client = client_for(bob)
    page = client.get(url("sign", envelope))
    html = page.content.decode()
    assert page_data(page)["needsCode"] is False
    assert 'data-testid="sign-pin"' in html and 'data-testid="sign-send-code"' not in html
    response = ask_code(client, envelope)
    assert response.status_code == 400, response.content
    assert "签署密码" in response.json()["message"]
    assert sign_codes_to(bob.phone) == 0


def test_pin_holder_cannot_sign_with_an_sms_code(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob)])
    recipient = envelope.recipients.get()
    code = planted_code(bob, envelope)
    response = submit(client_for(bob), envelope, recipient, code=code)
    assert response.status_code == 400, response.content
    assert "签署密码" in response.json()["message"]
    recipient.refresh_from_db()
    assert recipient.status != Recipient.Status.DONE
    assert not AuditEvent.objects.filter(envelope=envelope, action="signed").exists()
    # the PIN still works
    assert submit(client_for(bob), envelope, recipient, pin=PIN).status_code == 200


def test_locked_pin_means_wait_or_reset_not_sms(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = sent(build, alice, [("sign", 1, bob)])
    recipient = envelope.recipients.get()
    client = client_for(bob)
    for _ in range(5):
        assert submit(client, envelope, recipient, pin="000001").status_code == 400
    credential = SigningCredential.objects.get(user=bob)
    assert credential.locked_until is not None
    page = client.get(url("sign", envelope))
    html = page.content.decode()
    assert page_data(page)["needsCode"] is False and 'data-testid="sign-pin-locked"' in html
    assert ask_code(client, envelope).status_code == 400
    response = submit(client, envelope, recipient, code=planted_code(bob, envelope))
    assert response.status_code == 400
    message = response.json()["message"]
    assert "锁定至" in message and "重置签署密码" in message
    # the right PIN is refused too until the lock ends
    assert "锁定至" in submit(client, envelope, recipient, pin=PIN).json()["message"]
    recipient.refresh_from_db()
    assert recipient.status != Recipient.Status.DONE


def test_pin_holder_cannot_batch_sign_with_an_sms_code(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelopes = [sent(build, alice, [("sign", 1, bob)], title=f"合同{i}") for i in range(2)]
    client = client_for(bob)
    html, data = open_batch(client, envelopes)
    assert 'name="pin"' in html and 'data-testid="batch-send-code"' not in html
    refused = ask_batch_code(client, data)
    assert refused.status_code == 400 and "签署密码" in refused.json()["message"]
    assert sign_codes_to(bob.phone) == 0
    items = items_for(bob, envelopes)
    codes.issue_code(bob.phone, codes.Purpose.SIGN, binding=batch.batch_binding_of(items))
    code = sms_code(bob.phone, "sign_code")
    response = client.post(
        reverse("envelopes:batch-sign"), {**data, "code": code, "action": "sign"}
    )
    assert response.status_code == 400 and "签署密码" in response.content.decode()
    with pytest.raises(ConfirmationError):
        batch_actions.do_batch_sign(items, code=code, actor=bob, meta=TASK)
    assert not Recipient.objects.filter(envelope__in=envelopes, status="done").exists()


def test_seal_holder_with_a_pin_cannot_seal_with_an_sms_code(
    people: dict, build: Any, seal_org: Any
) -> None:
    alice, bob = people["alice"], people["bob"]
    org = seal_org(bob)
    envelope = sent(build, alice, [("seal", 1, org)])
    recipient = envelope.recipients.get()
    code = planted_code(bob, envelope)
    seal = str(seal_of(org).uuid)
    response = submit(client_for(bob), envelope, recipient, code=code, seal=seal)
    assert response.status_code == 400 and "签署密码" in response.json()["message"]
    response = submit(client_for(bob), envelope, recipient, pin=PIN, seal=str(seal_of(org).uuid))
    assert response.status_code == 200, response.content


def test_an_operator_revoked_credential_still_means_pin_only(people: dict, build: Any) -> None:
    """Revoking the credential (operator) must not open the SMS path: the person had a key."""
    from qianshu.identity.actions import do_revoke_signing_credential

    alice, bob = people["alice"], people["bob"]
    operator = User.objects.create_user("13900000009", is_staff=True)
    do_revoke_signing_credential(bob, "证书信息有误", actor=operator, meta=TASK)
    envelope = sent(build, alice, [("sign", 1, bob)])
    recipient = envelope.recipients.get()
    assert not confirmations.needs_code(bob)
    response = submit(client_for(bob), envelope, recipient, code=planted_code(bob, envelope))
    assert response.status_code == 400
    assert "重置签署密码" in response.json()["message"]


# --- signers without a PIN, and envelopes that do not allow SMS codes ---------------------------


def test_signer_without_pin_still_signs_by_sms_where_allowed(pki: None, build: Any) -> None:
    alice = make_signer("alice")
    zhang = person_without_pin("zhang", "张伟")
    envelope = sent(build, alice, [("sign", 1, zhang)])
    assert envelope.allow_sms_signing is True
    client = client_for(zhang)
    assert page_data(client.get(url("sign", envelope)))["needsCode"] is True
    assert ask_code(client, envelope).status_code == 200
    response = submit(client, envelope, envelope.recipients.get(), code=sms_code(zhang.phone))
    assert response.status_code == 200, response.content
    assert AuditEvent.objects.get(envelope=envelope, action="signed").detail["confirmation"] == (
        "sms"
    )


def test_envelope_without_sms_signing_leads_to_setting_a_pin(pki: None, build: Any) -> None:
    alice = make_signer("alice")
    zhang = person_without_pin("zhang", "张伟")
    envelope = build.draft(alice, [("sign", 1, zhang)])
    Envelope.objects.filter(pk=envelope.pk).update(allow_sms_signing=False)
    compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
    envelope.refresh_from_db()
    recipient = envelope.recipients.get()
    client = client_for(zhang)
    page = client.get(url("sign", envelope))
    html = page.content.decode()
    assert 'data-testid="sign-needs-pin"' in html and "signing-data" not in html
    assert reverse("identity:pin") + "?next=" + url("sign", envelope) in html
    assert ask_code(client, envelope).status_code == 400
    assert sign_codes_to(zhang.phone) == 0
    response = submit(client, envelope, recipient, code=planted_code(zhang, envelope))
    assert response.status_code == 400 and "签署密码" in response.json()["message"]
    # setting the PIN (after re-authentication) leads back to the signing page
    pin_client = logged_in(zhang)
    done = pin_client.post(
        reverse("identity:pin") + "?next=" + url("sign", envelope),
        {"pin1": "802461", "pin2": "802461"},
    )
    assert done.status_code == 302 and done["Location"] == url("sign", envelope)
    assert submit(pin_client, envelope, recipient, pin="802461").status_code == 200


def test_batch_leaves_out_tasks_that_need_a_pin(pki: None, build: Any) -> None:
    alice = make_signer("alice")
    zhang = person_without_pin("zhang", "张伟")
    strict = build.draft(alice, [("sign", 1, zhang)], title="严格")
    Envelope.objects.filter(pk=strict.pk).update(allow_sms_signing=False)
    compose_actions.do_send_envelope(strict, actor=alice, meta=TASK)
    easy = sent(build, alice, [("sign", 1, zhang)], title="普通")
    plan = batch.plan_batch(zhang, [str(strict.uuid), str(easy.uuid)])
    assert [t.envelope.pk for t in plan.ready] == [easy.pk]
    assert "签署密码" in plan.skipped[0].problem
    # a forged batch naming the strict task is refused as a whole
    task = turns.PostedTask(
        str(strict.uuid), strict.recipients.get().pk, batch.new_key(), seen(strict)
    )
    items = access.access_batch_items(zhang, [task], {})
    codes.issue_code(zhang.phone, codes.Purpose.SIGN, binding=batch.batch_binding_of(items))
    with pytest.raises(ConfirmationError):
        batch_actions.do_batch_sign(
            items, code=sms_code(zhang.phone, "sign_code"), actor=zhang, meta=TASK
        )
    assert not Recipient.objects.filter(envelope=strict, status="done").exists()


def test_compose_basics_has_the_sms_signing_switch(people: dict) -> None:
    alice = people["alice"]
    client = client_for(alice)
    page = client.get(reverse("envelopes:new")).content.decode()
    assert "允许未设置签署密码的签署人使用短信验证码签署" in page
    assert 'name="allow_sms_signing"' in page
    response = client.post(reverse("envelopes:new"), {"title": "仅密码签署", "action": "save"})
    assert response.status_code < 500
    envelope = Envelope.objects.get(title="仅密码签署")
    assert envelope.allow_sms_signing is False  # unticked box
    client.post(
        reverse("envelopes:edit", args=[envelope.uuid]),
        {"title": "仅密码签署", "allow_sms_signing": "on", "action": "save"},
    )
    envelope.refresh_from_db()
    assert envelope.allow_sms_signing is True


# --- the operator attack, end to end ------------------------------------------------------------


def _admin_change(client: Client, user: User, **changes: str) -> Any:
    data = {
        "phone": user.phone,
        "display_name": user.display_name,
        "email": user.email,
        "language": user.language,
        "is_active": "on",
        **changes,
    }
    return client.post(reverse("admin:accounts_user_change", args=[user.pk]), data)


def test_operator_who_moves_an_account_to_their_phone_cannot_sign(
    people: dict, build: Any, settings: Any
) -> None:
    alice, bob = people["alice"], people["bob"]
    old_phone = bob.phone
    envelope = sent(build, alice, [("sign", 1, bob)])
    recipient = envelope.recipients.get()
    bob_session = client_for(bob)
    # bob opened his SMS link: the step is his account's, whatever its phone becomes
    bob_session.get(reverse("envelopes:link", args=[recipient_token(recipient)]))
    recipient.refresh_from_db()
    assert recipient.user_id == bob.pk
    operator = User.objects.create_superuser("13900000009", display_name="运营")
    staff = logged_in(operator)  # freshly re-authenticated, as the back office requires
    mallory_phone = "13700000666"

    # 1. The admin's user form no longer changes a phone silently.
    _admin_change(staff, bob, phone=mallory_phone)
    bob.refresh_from_db()
    assert bob.phone == old_phone

    # 2. The operator action does it in the open: a reason, an event, sessions ended, SMS.
    response = staff.post(
        reverse("backoffice:user-phone", args=[bob.pk]),
        {"phone": mallory_phone, "reason": "用户来电称手机丢失"},
    )
    assert response.status_code == 302, response.content
    bob.refresh_from_db()
    assert bob.phone == mallory_phone
    event = SecurityEvent.objects.get(user=bob, action="phone_changed")
    assert event.detail["operator"] == operator.pk
    assert event.detail["reason"] == "用户来电称手机丢失"
    told = OutboxMessage.objects.get(recipient=old_phone, kind="phone_changed_by_operator")
    assert "137****0666" in told.body
    assert OutboxMessage.objects.filter(recipient=mallory_phone, kind="phone_bound").exists()
    assert bob_session.get(reverse("accounts:profile")).status_code == 302  # logged out

    # 3. The operator logs in as bob with the new phone ...
    mallory = Client()
    mallory.post("/login/", {"action": "send", "phone": mallory_phone})
    mallory.post(
        "/login/", {"action": "login", "phone": mallory_phone, "code": sms_code(mallory_phone)}
    )
    assert mallory.get(reverse("accounts:profile")).status_code == 200
    # ... and cannot sign: the page asks for bob's PIN, no SMS code is sent or accepted ...
    page = mallory.get(url("sign", envelope))
    assert page_data(page)["needsCode"] is False
    assert ask_code(mallory, envelope).status_code == 400
    response = submit(mallory, envelope, recipient, code=planted_code(bob, envelope))
    assert response.status_code == 400
    assert submit(mallory, envelope, recipient, pin="135790").status_code == 400
    # ... and a new key by PIN reset is held for QIANSHU_PIN_RESET_HOLD_HOURS.
    assert settings.QIANSHU_PIN_RESET_HOLD_HOURS == 72
    reset = logged_in(bob)  # bob's account, now in mallory's hands, freshly re-authenticated
    page = reset.get(reverse("identity:pin-reset")).content.decode()
    assert 'data-testid="pin-reset-held"' in page
    refused = reset.post(
        reverse("identity:pin-reset"), {"action": "send"}, headers={"X-Requested-With": "fetch"}
    )
    assert refused.status_code == 429 and not refused.json()["ok"]
    assert not OutboxMessage.objects.filter(recipient=mallory_phone, kind="pin_reset_code").exists()
    recipient.refresh_from_db()
    assert recipient.status != Recipient.Status.DONE
    assert not AuditEvent.objects.filter(envelope=envelope, action="signed").exists()
