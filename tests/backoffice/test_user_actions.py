"""运营后台 → 用户账号: an operator changes a phone, revokes an identity or a credential only
through audited actions (reason, security event naming the operator, sessions ended, SMS), and
nothing an operator does gives anybody a signing key. The admin cannot do these silently."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from qianshu.accounts.models import SecurityEvent, User
from qianshu.core.meta import TASK
from qianshu.envelopes.confirmations import sms_refusal
from qianshu.identity.actions import do_approve_verification, do_set_signing_pin
from qianshu.identity.errors import NewKeyHeld, NewPinByReset, OwnReview
from qianshu.identity.models import PersonIdentity, SigningCredential, VerificationAttempt
from qianshu.notifications.models import OutboxMessage
from qianshu.pki.models import IssuedCertificate
from tests.identity.helpers import logged_in
from tests.support.personas import make_verified_person

pytestmark = pytest.mark.django_db

PIN = "802461"


@pytest.fixture
def signer(platform_pki: None) -> User:
    """bob, verified, with a signing PIN."""
    bob = make_verified_person("bob")
    do_set_signing_pin(PIN, actor=bob, meta=TASK)
    return bob


def page(user: User) -> str:
    return reverse("backoffice:user", args=[user.pk])


def action(name: str, user: User) -> str:
    return reverse(f"backoffice:{name}", args=[user.pk])


def test_only_operators_see_or_use_the_user_pages(signer: User, alice: User) -> None:
    urls = [
        ("get", reverse("backoffice:users")),
        ("get", page(signer)),
        ("post", action("user-phone", signer)),
        ("post", action("user-identity-revoke", signer)),
        ("post", action("user-credential-revoke", signer)),
    ]
    client = logged_in(alice)
    for method, url in urls:
        response = getattr(client, method)(url, {"phone": "13700000001", "reason": "x"})
        assert response.status_code == 404, url
    for method, url in urls:
        response = getattr(Client(), method)(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    signer.refresh_from_db()
    assert signer.phone == "13800000002"
    assert SigningCredential.objects.get(user=signer).replaced_at is None


def test_operator_finds_an_account_and_sees_its_state(signer: User, operator: User) -> None:
    client = logged_in(operator)
    found = client.get(reverse("backoffice:users"), {"q": "0002"}).content.decode()
    assert page(signer) in found
    html = client.get(page(signer)).content.decode()
    identity = PersonIdentity.objects.get(user=signer)
    assert identity.name in html and identity.number_masked in html
    assert SigningCredential.objects.get(user=signer).certificate.serial_hex in html
    assert 'data-testid="user-credential-form"' in html
    # an operator's own account is changed in the user centre, not here
    assert client.get(page(operator)).status_code == 404


def test_actions_need_a_fresh_reauthentication(signer: User, operator: User) -> None:
    client = logged_in(operator, reauth=False)
    response = client.post(
        action("user-phone", signer), {"phone": "13700000001", "reason": "用户来电"}
    )
    assert response.status_code == 302 and response["Location"].startswith("/me/reauth/")
    signer.refresh_from_db()
    assert signer.phone == "13800000002"


def test_every_action_needs_a_reason(signer: User, operator: User) -> None:
    client = logged_in(operator)
    client.post(action("user-phone", signer), {"phone": "13700000001", "reason": "  "})
    client.post(action("user-credential-revoke", signer), {"reason": ""})
    client.post(action("user-identity-revoke", signer), {})
    signer.refresh_from_db()
    assert signer.phone == "13800000002"
    assert PersonIdentity.objects.filter(user=signer).exists()
    assert SigningCredential.objects.get(user=signer).replaced_at is None
    messages = [m.message for m in client.get(page(signer)).context["messages"]]
    assert messages.count("请填写原因。") == 3


def test_phone_change_to_a_taken_number_is_refused(
    signer: User, operator: User, alice: User
) -> None:
    client = logged_in(operator)
    client.post(action("user-phone", signer), {"phone": alice.phone, "reason": "用户来电"})
    signer.refresh_from_db()
    assert signer.phone == "13800000002"
    assert not SecurityEvent.objects.filter(user=signer, action="phone_changed").exists()
    assert not OutboxMessage.objects.filter(kind="phone_changed_by_operator").exists()


def test_revoking_the_credential(signer: User, operator: User) -> None:
    session = logged_in(signer)
    assert session.get("/me/").status_code == 200
    credential = SigningCredential.objects.get(user=signer)
    response = logged_in(operator).post(
        action("user-credential-revoke", signer), {"reason": "用户报告设备丢失"}
    )
    assert response.status_code == 302
    credential.refresh_from_db()
    assert credential.replaced_at is not None
    certificate = IssuedCertificate.objects.get(pk=credential.certificate_id)
    assert certificate.revoked_at is not None  # CRL and OCSP say so
    event = SecurityEvent.objects.get(user=signer, action="signing_credential_revoked")
    assert event.detail["operator"] == operator.pk and event.detail["reason"] == "用户报告设备丢失"
    sms = OutboxMessage.objects.get(recipient=signer.phone, kind="credential_revoked")
    assert "用户报告设备丢失" in sms.body
    assert session.get("/me/").status_code == 302  # every session ended
    # the person (or whoever holds the account) gets no key by setting a "first" PIN again
    with pytest.raises(NewPinByReset):
        do_set_signing_pin("531864", actor=signer, meta=TASK)
    signer.refresh_from_db()
    html = logged_in(signer).get(reverse("identity:pin")).content.decode()
    assert 'data-testid="pin-needs-reset"' in html and "pin-set-form" not in html


def test_revoking_the_identity(signer: User, operator: User) -> None:
    session = logged_in(signer)
    response = logged_in(operator).post(
        action("user-identity-revoke", signer), {"reason": "姓名录入有误"}
    )
    assert response.status_code == 302
    assert not PersonIdentity.objects.filter(user=signer).exists()
    credential = SigningCredential.objects.get(user=signer)
    assert credential.replaced_at is not None
    assert IssuedCertificate.objects.get(pk=credential.certificate_id).revoked_at is not None
    event = SecurityEvent.objects.get(user=signer, action="identity_revoked")
    assert event.detail["operator"] == operator.pk and event.detail["reason"] == "姓名录入有误"
    assert OutboxMessage.objects.filter(recipient=signer.phone, kind="identity_revoked").exists()
    assert session.get("/me/").status_code == 302
    # the person verifies again
    signer.refresh_from_db()
    html = logged_in(signer).get(reverse("identity:status")).content.decode()
    assert 'data-status="unverified"' in html


def test_the_admin_changes_no_phone_email_or_password(signer: User) -> None:
    superuser = User.objects.create_superuser("13900000008")
    admin = logged_in(superuser)
    form = admin.get(reverse("admin:accounts_user_change", args=[signer.pk])).content.decode()
    assert 'name="phone"' not in form and 'name="email"' not in form
    assert page(signer) in form  # the way to the operator actions
    admin.post(
        reverse("admin:accounts_user_change", args=[signer.pk]),
        {
            "phone": "13700000666",
            "email": "mallory@example.com",
            "display_name": "bob",
            "language": "zh-hans",
            "is_active": "on",
        },
    )
    signer.refresh_from_db()
    assert signer.phone == "13800000002" and signer.email == ""
    password = admin.post(
        f"/admin/accounts/user/{signer.pk}/password/",
        {"password1": "Mallory-12345", "password2": "Mallory-12345"},
    )
    assert password.status_code == 403
    signer.refresh_from_db()
    assert not signer.has_usable_password()
    # a new account made in the admin has no password the operator knows
    admin.post(reverse("admin:accounts_user_add"), {"phone": "13700000777"})
    created = User.objects.get(phone="13700000777")
    assert not created.has_usable_password()


def test_an_operator_never_approves_their_own_identity(operator: User) -> None:
    from tests.backoffice.test_identity_review import submit_manual

    submit_manual(logged_in(operator))
    attempt = VerificationAttempt.objects.get(user=operator)
    with pytest.raises(OwnReview):
        do_approve_verification(attempt.uuid, actor=operator, meta=TASK)
    response = logged_in(operator).post(
        f"/backoffice/identity/{attempt.uuid}/decide/", {"decision": "approve"}
    )
    assert response.status_code == 302
    attempt.refresh_from_db()
    assert attempt.status == VerificationAttempt.Status.PENDING_REVIEW
    assert not PersonIdentity.objects.filter(user=operator).exists()


def test_after_an_operator_phone_change_no_first_pin_or_sms_key(
    platform_pki: None, operator: User, settings: Any
) -> None:
    carol = make_verified_person("carol", "13800000033")  # verified, never set a PIN
    logged_in(operator).post(
        action("user-phone", carol), {"phone": "13700000888", "reason": "用户来电"}
    )
    carol.refresh_from_db()
    assert carol.phone == "13700000888" and carol.phone_changed_by_operator()
    with pytest.raises(NewKeyHeld) as held:
        do_set_signing_pin(PIN, actor=carol, meta=TASK)
    expected = carol.phone_changed_at + dt.timedelta(hours=settings.QIANSHU_PIN_RESET_HOLD_HOURS)
    assert held.value.until == expected
    html = logged_in(carol).get(reverse("identity:pin")).content.decode()
    assert 'data-testid="pin-held"' in html and "pin-set-form" not in html
    # nor an event key: SMS-code signing waits too
    assert "不能设置签署密码或使用短信验证码签署" in str(sms_refusal(carol, []))
    # after the hold, the person may set a first PIN
    type(carol).objects.filter(pk=carol.pk).update(
        phone_changed_at=timezone.now() - dt.timedelta(hours=73)
    )
    carol.refresh_from_db()
    do_set_signing_pin(PIN, actor=carol, meta=TASK)
