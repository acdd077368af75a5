"""Signing PIN (签署密码), lockout, reset and the person certificate (证书)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import Client
from django.utils import timezone

from qianshu.accounts.models import RateLimit, SecurityEvent, User
from qianshu.core.meta import TASK
from qianshu.identity.actions import (
    NoCredential,
    PinLocked,
    WrongPin,
    do_unlock_signing_key,
)
from qianshu.identity.models import SigningCredential
from qianshu.identity.pins import person_key_store
from qianshu.pki.keystores import pin_key_store
from qianshu.pki.models import IssuedCertificate
from qianshu.pki.platform import lookup_issued
from tests.identity.helpers import GOOD_ID, logged_in, resident_id, verify_with_bank4
from tests.support.accounts import sms_code

pytestmark = pytest.mark.django_db

PIN = "482913"
NEW_PIN = "730518"


@pytest.fixture
def verified_alice(alice: User, platform_pki: None) -> Client:
    client = logged_in(alice)
    verify_with_bank4(client)
    return client


def set_pin(client: Client, pin: str = PIN, again: str | None = None):  # type: ignore[no-untyped-def]
    return client.post("/me/identity/pin/", {"pin1": pin, "pin2": again or pin})


def page(response: Any) -> str:
    return response.content.decode()


def test_pin_pages_need_a_recent_reauthentication(alice: User) -> None:
    client = logged_in(alice, reauth=False)
    response = client.get("/me/identity/pin/")
    assert response.status_code == 302 and response["Location"].startswith("/me/reauth/")
    response = set_pin(client)
    assert response["Location"].startswith("/me/reauth/")
    assert not SigningCredential.objects.exists()


def test_pin_needs_a_verified_identity(alice: User) -> None:
    client = logged_in(alice)
    response = client.get("/me/identity/pin/")
    assert response.status_code == 200 and "请先完成个人实名认证" in page(response)
    set_pin(client)
    assert not SigningCredential.objects.exists()


@pytest.mark.parametrize(
    ("pin", "message"),
    [
        ("888888", "同一个数字"),
        ("123456", "连续的数字"),
        ("654321", "连续的数字"),
        ("900307", "出生日期"),  # GOOD_ID's birthday as YYMMDD
        ("030790", "出生日期"),  # MMDDYY
        (GOOD_ID[-6:], "后 6 位"),
        ("4829", "6 位数字"),
    ],
)
def test_trivial_pins_are_refused(verified_alice: Client, pin: str, message: str) -> None:
    response = set_pin(verified_alice, pin)
    assert response.status_code == 400 and message in page(response)
    assert not SigningCredential.objects.exists()


def test_pins_must_match(verified_alice: Client) -> None:
    response = set_pin(verified_alice, PIN, NEW_PIN)
    assert response.status_code == 400 and "两次输入的签署密码不一致" in page(response)
    assert not SigningCredential.objects.exists()


def test_set_pin_issues_the_person_certificate(verified_alice: Client, alice: User) -> None:
    response = set_pin(verified_alice)
    assert response["Location"] == "/me/identity/certificate/"
    credential = SigningCredential.objects.get(user=alice)
    assert credential.subject_id == f"QS-U{alice.pk}"
    assert bytes(credential.wrapped_key).startswith(b"QSP1")
    cert = x509.load_der_x509_certificate(bytes(credential.certificate.certificate_der))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "何建宇"
    assert GOOD_ID not in cert.subject.rfc4514_string()
    assert credential.certificate.kind == IssuedCertificate.Kind.PERSON
    assert SecurityEvent.objects.filter(user=alice, action="signing_pin_set").exists()
    # Setting it again is not possible: the page now offers the change form.
    html = page(verified_alice.get("/me/identity/pin/"))
    assert "修改签署密码" in html and 'name="old_pin"' in html


def test_unlock_gives_the_key_of_the_certificate(verified_alice: Client, alice: User) -> None:
    set_pin(verified_alice)
    key, cert = do_unlock_signing_key(alice, PIN, meta=TASK)
    signature = key.sign(b"contract")
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, b"contract", ec.ECDSA(hashes.SHA256()))


def test_unlock_without_a_pin(alice: User) -> None:
    with pytest.raises(NoCredential):
        do_unlock_signing_key(alice, PIN, meta=TASK)


def test_five_wrong_pins_lock_signing_for_30_minutes(verified_alice: Client, alice: User) -> None:
    set_pin(verified_alice)
    # Wrong PINs on the change page and when signing count together.
    for _ in range(2):
        response = verified_alice.post(
            "/me/identity/pin/", {"old_pin": "000001", "pin1": NEW_PIN, "pin2": NEW_PIN}
        )
        assert response.status_code == 400 and "签署密码错误" in page(response)
    remaining = []
    for _ in range(2):
        with pytest.raises(WrongPin) as wrong:
            do_unlock_signing_key(alice, "000001", meta=TASK)
        remaining.append(wrong.value.remaining_attempts)
    assert remaining == [2, 1]
    with pytest.raises(PinLocked) as locked:
        do_unlock_signing_key(alice, "000001", meta=TASK)
    until = locked.value.until
    assert dt.timedelta(minutes=29) < until - timezone.now() <= dt.timedelta(minutes=30)
    # Even the right PIN is refused while locked, on both paths.
    with pytest.raises(PinLocked):
        do_unlock_signing_key(alice, PIN, meta=TASK)
    response = verified_alice.post(
        "/me/identity/pin/", {"old_pin": PIN, "pin1": NEW_PIN, "pin2": NEW_PIN}
    )
    assert response.status_code == 400 and "已锁定" in page(response)
    assert SecurityEvent.objects.filter(user=alice, action="signing_pin_locked").count() == 1
    # 30 minutes later the PIN works again.
    SigningCredential.objects.filter(user=alice).update(
        locked_until=timezone.now() - dt.timedelta(seconds=1)
    )
    key, _cert = do_unlock_signing_key(alice, PIN, meta=TASK)
    assert key.sign(b"x")
    assert SigningCredential.objects.get(user=alice).failed_attempts == 0


def test_a_right_pin_resets_the_count(verified_alice: Client, alice: User) -> None:
    set_pin(verified_alice)
    for _ in range(4):
        with pytest.raises(WrongPin):
            do_unlock_signing_key(alice, "000001", meta=TASK)
    do_unlock_signing_key(alice, PIN, meta=TASK)
    with pytest.raises(WrongPin) as wrong:
        do_unlock_signing_key(alice, "000001", meta=TASK)
    assert wrong.value.remaining_attempts == 4


def test_change_pin(verified_alice: Client, alice: User) -> None:
    set_pin(verified_alice)
    before = SigningCredential.objects.get(user=alice)
    response = verified_alice.post("/me/identity/pin/", {"old_pin": PIN, "pin1": PIN, "pin2": PIN})
    assert response.status_code == 400 and "不能与原密码相同" in page(response)
    response = verified_alice.post(
        "/me/identity/pin/", {"old_pin": PIN, "pin1": "123456", "pin2": "123456"}
    )
    assert response.status_code == 400 and "连续的数字" in page(response)
    response = verified_alice.post(
        "/me/identity/pin/", {"old_pin": PIN, "pin1": NEW_PIN, "pin2": NEW_PIN}
    )
    assert response.status_code == 302
    with pytest.raises(WrongPin):
        do_unlock_signing_key(alice, PIN, meta=TASK)
    _key, cert = do_unlock_signing_key(alice, NEW_PIN, meta=TASK)
    after = SigningCredential.objects.get(user=alice)
    assert after.pk == before.pk and after.certificate_id == before.certificate_id
    assert format(cert.serial_number, "x") == before.certificate.serial_hex
    assert SecurityEvent.objects.filter(user=alice, action="signing_pin_changed").exists()


def reset(client: Client, **data: str):  # type: ignore[no-untyped-def]
    fields = {"action": "reset", "id_number": GOOD_ID, "pin1": NEW_PIN, "pin2": NEW_PIN}
    fields.update(data)
    return client.post("/me/identity/pin/reset/", fields)


def test_reset_pin_revokes_the_old_certificate(verified_alice: Client, alice: User) -> None:
    set_pin(verified_alice)
    old = SigningCredential.objects.get(user=alice)
    for _ in range(5):  # a locked user can still reset
        try:
            do_unlock_signing_key(alice, "000001", meta=TASK)
        except (WrongPin, PinLocked):
            pass
    response = verified_alice.post(
        "/me/identity/pin/reset/", {"action": "send"}, headers={"X-Requested-With": "fetch"}
    )
    assert response.json()["ok"]
    code = sms_code(alice.phone, "pin_reset_code")
    # A wrong ID number (right format) is refused and spends the code.
    other = resident_id(seq="777")
    response = reset(verified_alice, code=code, id_number=other)
    assert response.status_code == 400 and "证件号码与实名认证信息不一致" in page(response)
    # A mistyped one (bad check digit) is caught before the code is used.
    bad = GOOD_ID[:17] + ("0" if GOOD_ID[17] != "0" else "1")
    response = reset(verified_alice, code="000000", id_number=bad)
    assert response.status_code == 400 and "校验位不正确" in page(response)
    assert SigningCredential.objects.get(replaced_at__isnull=True).pk == old.pk

    # A minute later, a new code; a wrong code is refused, the right one resets.
    RateLimit.objects.filter(key__startswith="sms-send:").update(
        last_at=timezone.now() - dt.timedelta(seconds=61)
    )
    verified_alice.post("/me/identity/pin/reset/", {"action": "send"})
    code = sms_code(alice.phone, "pin_reset_code")
    response = reset(verified_alice, code=f"{(int(code) + 1) % 1_000_000:06d}")
    assert response.status_code == 400 and "验证码错误" in page(response)
    response = reset(verified_alice, code=code)
    assert response.status_code == 302, page(response)

    old.refresh_from_db()
    old.certificate.refresh_from_db()
    assert old.replaced_at is not None
    assert old.certificate.revoked_at is not None
    assert old.certificate.revocation_reason == IssuedCertificate.Reason.SUPERSEDED
    found = lookup_issued(old.certificate.serial_number)
    assert found is not None and found[1].status == "revoked"
    new = SigningCredential.objects.get(user=alice, replaced_at__isnull=True)
    assert new.certificate_id != old.certificate_id and new.certificate.revoked_at is None
    assert new.subject_id == old.subject_id  # the pseudonym is stable
    _key, cert = do_unlock_signing_key(alice, NEW_PIN, meta=TASK)
    assert format(cert.serial_number, "x") == new.certificate.serial_hex
    with pytest.raises(WrongPin):
        do_unlock_signing_key(alice, PIN, meta=TASK)
    html = page(verified_alice.get("/me/identity/certificate/"))
    assert "历史证书" in html and "已吊销" in html


def test_reset_pin_with_the_wrong_code_only(verified_alice: Client, alice: User) -> None:
    set_pin(verified_alice)
    response = reset(verified_alice, code="123456")
    assert response.status_code == 400 and "验证码错误或已失效" in page(response)
    assert SigningCredential.objects.count() == 1


# --- certificate page and downloads -----------------------------------------------------------


def test_certificate_page_and_downloads(verified_alice: Client, alice: User) -> None:
    set_pin(verified_alice)
    credential = SigningCredential.objects.get(user=alice)
    serial = credential.certificate.serial_hex
    html = page(verified_alice.get("/me/identity/certificate/"))
    cert = x509.load_der_x509_certificate(bytes(credential.certificate.certificate_der))
    fingerprint = cert.fingerprint(hashes.SHA256()).hex(":").upper()
    assert "何建宇" in html and "有效" in html and fingerprint in html
    assert 'data-status="valid"' in html
    der = verified_alice.get(f"/me/identity/certificate/{serial}.cer")
    assert der.status_code == 200 and der["Content-Type"] == "application/pkix-cert"
    parsed = x509.load_der_x509_certificate(der.content)
    assert parsed.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "何建宇"
    pem = verified_alice.get(f"/me/identity/certificate/{serial.upper()}.pem")
    assert pem.status_code == 200
    assert x509.load_pem_x509_certificate(pem.content) == parsed


def test_bob_cannot_fetch_alices_certificate(
    verified_alice: Client, alice: User, bob: User
) -> None:
    set_pin(verified_alice)
    serial = SigningCredential.objects.get(user=alice).certificate.serial_hex
    bob_client = logged_in(bob)
    for url in [
        f"/me/identity/certificate/{serial}.cer",
        f"/me/identity/certificate/{serial}.pem",
        f"/me/identity/certificate/{serial.upper()}.cer",
        f"/me/identity/certificate/0{serial}.der",
        "/me/identity/certificate/zz.cer",
    ]:
        assert bob_client.get(url).status_code == 404, url
    assert serial not in page(bob_client.get("/me/identity/certificate/"))
    assert Client().get(f"/me/identity/certificate/{serial}.cer").status_code == 302


def test_person_key_store_matches_the_pki_pin_store(settings: Any) -> None:
    """identity builds its own PinKeyStore (for the Argon2 setting): same server secret."""
    settings.QIANSHU_PIN_ARGON2 = {"time_cost": 1, "memory_kib": 16, "parallelism": 1}
    wrapped, key = person_key_store().create_key(PIN, "person-key:test")
    unwrapped = pin_key_store().unwrap(wrapped, PIN, "person-key:test")
    assert unwrapped.public_key_der() == key.public_key_der()
    assert wrapped[4:16] == (1).to_bytes(4, "big") + (16).to_bytes(4, "big") + (1).to_bytes(
        4, "big"
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_pins_are_all_counted(alice: User) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from qianshu.pki.actions import do_init_pki

    do_init_pki(name="测试平台")
    client = logged_in(alice)
    verify_with_bank4(client)
    set_pin(client)

    def guess(_: int) -> str:
        try:
            do_unlock_signing_key(alice, "000001", meta=TASK)
        except WrongPin:
            return "wrong"
        except PinLocked:
            return "locked"
        finally:
            connection.close()
        return "ok"

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(guess, range(12)))
    assert results.count("wrong") == 4 and results.count("locked") == 8
    with pytest.raises(PinLocked):
        do_unlock_signing_key(alice, PIN, meta=TASK)
