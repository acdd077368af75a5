"""Personal real-name verification through the views: steps, methods, sandbox rules, records."""

from __future__ import annotations

from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import Client

from qianshu.accounts.models import OneTimeCode, SecurityEvent, User
from qianshu.identity import crypto
from qianshu.identity.models import PersonIdentity, SandboxFaceSession, VerificationAttempt
from qianshu.identity.providers.sandbox import SandboxProvider
from tests.identity.helpers import (
    ERROR_ID,
    FAIL_CARD,
    FAIL_ID,
    GOOD_CARD,
    GOOD_ID,
    declare,
    image_bytes,
    logged_in,
    resident_id,
    verify_with_bank4,
)
from tests.support.accounts import latest_sms, sms_code

pytestmark = pytest.mark.django_db

Status = VerificationAttempt.Status


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def page(response: Any) -> str:
    return response.content.decode()


# --- status and step 1 ------------------------------------------------------------------------


def test_status_page_offers_verification(alice: User) -> None:
    client = logged_in(alice)
    response = client.get("/me/identity/")
    assert response.status_code == 200
    html = page(response)
    assert "未认证" in html and 'data-testid="identity-start"' in html
    assert 'data-status="unverified"' in html


def test_pages_need_a_login() -> None:
    for url in ["/me/identity/", "/me/identity/start/", "/me/identity/method/"]:
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_step1_prefills_the_account_phone(alice: User) -> None:
    html = page(logged_in(alice).get("/me/identity/start/"))
    assert 'value="13800000001"' in html
    for label in ["居民身份证", "护照", "港澳居民来往内地通行证", "台湾居民来往大陆通行证"]:
        assert label in html
    assert "外国人永久居留身份证" in html and "下一步" in html


def test_bad_check_digit_is_refused_before_any_provider_call(alice: User) -> None:
    client = logged_in(alice)
    bad = GOOD_ID[:17] + ("0" if GOOD_ID[17] != "0" else "1")
    with (
        mock.patch.object(SandboxProvider, "check_phone3", autospec=True) as phone3,
        mock.patch.object(SandboxProvider, "check_bank4", autospec=True) as bank4,
        mock.patch.object(SandboxProvider, "start_face", autospec=True) as face,
    ):
        response = declare(client, id_number=bad)
        assert response.status_code == 400
        assert "校验位不正确" in page(response)
        # Without a valid step 1 the method pages send the user back to step 1.
        for url, data in [
            ("/me/identity/phone/", {"action": "send"}),
            ("/me/identity/bank-card/", {"card_number": GOOD_CARD, "phone": "13800000001"}),
            ("/me/identity/face/", {"agree": "on"}),
        ]:
            response = client.post(url, data)
            assert response.status_code == 302 and response["Location"] == "/me/identity/start/"
    phone3.assert_not_called()
    bank4.assert_not_called()
    face.assert_not_called()
    assert not VerificationAttempt.objects.exists()


@pytest.mark.parametrize(
    ("number", "message"),
    [
        (resident_id(birth="19900230"), "出生日期不正确"),
        (resident_id("990101"), "地区码不正确"),
        ("12345", "18 位"),
    ],
)
def test_step1_explains_bad_numbers(alice: User, number: str, message: str) -> None:
    response = declare(logged_in(alice), id_number=number)
    assert response.status_code == 400 and message in page(response)


def test_step1_requires_a_name_and_a_phone(alice: User) -> None:
    response = declare(logged_in(alice), name="", phone="123")
    assert response.status_code == 400
    html = page(response)
    assert "请输入姓名" in html and "请输入正确的手机号码" in html


# --- step 2: methods per document type --------------------------------------------------------


def test_resident_id_offers_every_method(alice: User) -> None:
    client = logged_in(alice)
    assert declare(client)["Location"] == "/me/identity/method/"
    html = page(client.get("/me/identity/method/"))
    for label in ["人脸识别", "手机号认证", "银行卡认证", "人工审核"]:
        assert label in html
    assert "**宇" in html and GOOD_ID[:4] + "**********" + GOOD_ID[-4:] in html
    response = client.post("/me/identity/method/", {"method": "bank4"})
    assert response["Location"] == "/me/identity/bank-card/"


def test_passport_holder_gets_manual_review_only(alice: User) -> None:
    client = logged_in(alice)
    response = declare(client, id_type="passport", id_number="E12345678", name="John Smith")
    assert response.status_code == 302
    html = page(client.get("/me/identity/method/"))
    assert 'value="manual"' in html
    for method in ["face", "phone3", "bank4"]:
        assert f'value="{method}"' not in html
    # Posting a method the form does not offer is refused ...
    response = client.post("/me/identity/method/", {"method": "face"})
    assert response.status_code == 400 and "不支持此认证方式" in page(response)
    # ... and so is going to the method page directly, before any provider call.
    with mock.patch.object(SandboxProvider, "start_face", autospec=True) as face:
        response = client.post("/me/identity/face/", {"agree": "on"})
    face.assert_not_called()
    assert response.status_code == 302 and response["Location"] == "/me/identity/method/"
    follow = client.get(response["Location"])
    assert "不支持此认证方式" in page(follow)
    for url in ["/me/identity/phone/", "/me/identity/bank-card/"]:
        assert client.post(url, {"action": "send"})["Location"] == "/me/identity/method/"
    assert not VerificationAttempt.objects.exists()
    assert client.post("/me/identity/method/", {"method": "manual"})["Location"] == (
        "/me/identity/manual/"
    )


# --- bank card four-factor --------------------------------------------------------------------


def test_bank4_success_creates_the_identity(alice: User) -> None:
    client = logged_in(alice)
    attempt = verify_with_bank4(client)
    assert attempt.status == Status.PASSED and attempt.provider == "sandbox"
    assert attempt.inputs_masked == {"card": f"**** {GOOD_CARD[-4:]}", "phone": "138****0001"}
    identity = PersonIdentity.objects.get(user=alice)
    assert identity.name == "何建宇" and identity.method == "bank4"
    assert identity.number_masked == GOOD_ID[:4] + "*" * 10 + GOOD_ID[-4:]
    assert identity.birth_date is not None and identity.birth_date.isoformat() == "1990-03-07"
    result = client.get(attempt.get_absolute_url())
    assert "核验成功" in page(result) and "2 秒自动返回" in page(result)
    status = page(client.get("/me/identity/"))
    assert "何建宇" in status and identity.number_masked in status and GOOD_ID not in status
    assert SecurityEvent.objects.filter(user=alice, action="identity_verification_passed").exists()


def test_bank4_checks_the_card_number_locally(alice: User) -> None:
    client = logged_in(alice)
    declare(client)
    bad = GOOD_CARD[:-1] + str((int(GOOD_CARD[-1]) + 1) % 10)
    with mock.patch.object(SandboxProvider, "check_bank4", autospec=True) as bank4:
        response = client.post(
            "/me/identity/bank-card/", {"card_number": bad, "phone": "13800000001"}
        )
    bank4.assert_not_called()
    assert response.status_code == 400 and "银行卡号有误" in page(response)
    assert not VerificationAttempt.objects.exists()


def test_sandbox_failing_card_then_switch_method(alice: User) -> None:
    client = logged_in(alice)
    declare(client)
    response = client.post(
        "/me/identity/bank-card/", {"card_number": FAIL_CARD, "phone": "13800000001"}
    )
    attempt = VerificationAttempt.objects.get()
    assert response["Location"] == attempt.get_absolute_url()
    assert attempt.status == Status.FAILED and "银行卡信息核验不一致" in attempt.reason
    html = page(client.get(attempt.get_absolute_url()))
    assert "核验失败" in html and "再试一次" in html and "换一种方式" in html
    assert 'href="/me/identity/start/"' in html and 'href="/me/identity/method/"' in html
    # Switching to another method works with the same declaration.
    assert client.get("/me/identity/method/").status_code == 200
    response = client.post(
        "/me/identity/bank-card/", {"card_number": GOOD_CARD, "phone": "13800000001"}
    )
    assert VerificationAttempt.objects.latest("id").status == Status.PASSED
    assert PersonIdentity.objects.filter(user=alice).exists()


def test_sandbox_failure_number_fails_every_check_and_retry_works(alice: User) -> None:
    client = logged_in(alice)
    declare(client, id_number=FAIL_ID)
    client.post("/me/identity/bank-card/", {"card_number": GOOD_CARD, "phone": "13800000001"})
    client.post("/me/identity/phone/", {"action": "send"})
    face = client.post("/me/identity/face/", {"agree": "on"})
    client.post(path_of(face["Location"]), {"outcome": "passed"})
    client.get(f"/me/identity/face/return/{VerificationAttempt.objects.latest('id').uuid}/")
    statuses = {a.method: a.status for a in VerificationAttempt.objects.all()}
    assert statuses == {"bank4": "failed", "phone3": "failed", "face": "failed"}
    assert not PersonIdentity.objects.exists()
    assert not OneTimeCode.objects.exists()  # no SMS code after a failed phone check
    # 再试一次: back to step 1 with the declaration kept, fix the number, pass.
    html = page(client.get("/me/identity/start/"))
    assert "何建宇" in html
    declare(client, id_number=GOOD_ID)
    client.post("/me/identity/bank-card/", {"card_number": GOOD_CARD, "phone": "13800000001"})
    assert PersonIdentity.objects.filter(user=alice).exists()


def test_provider_error_is_reported_as_such(alice: User) -> None:
    client = logged_in(alice)
    declare(client, id_number=ERROR_ID)
    response = client.post(
        "/me/identity/bank-card/", {"card_number": GOOD_CARD, "phone": "13800000001"}
    )
    attempt = VerificationAttempt.objects.get()
    assert attempt.status == Status.ERROR
    html = page(client.get(response["Location"]))
    assert "暂时无法核验" in html and "服务暂时不可用" in html


# --- phone three-factor -----------------------------------------------------------------------


def test_phone3_needs_the_sms_code(alice: User) -> None:
    client = logged_in(alice)
    declare(client, phone="13700000007")
    response = client.post("/me/identity/phone/", {"action": "send"})
    assert response["Location"] == "/me/identity/phone/"
    attempt = VerificationAttempt.objects.get()
    assert attempt.status == Status.STARTED and attempt.method == "phone3"
    message = latest_sms("13700000007", "identity_phone_code")
    assert "实名认证" in message.body
    good = sms_code("13700000007")
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    response = client.post("/me/identity/phone/", {"action": "confirm", "code": wrong})
    assert response.status_code == 400 and "验证码错误" in page(response)
    assert not PersonIdentity.objects.exists()
    response = client.post("/me/identity/phone/", {"action": "confirm", "code": good})
    attempt.refresh_from_db()
    assert response["Location"] == attempt.get_absolute_url()
    assert attempt.status == Status.PASSED
    assert PersonIdentity.objects.get(user=alice).method == "phone3"


def test_phone3_code_of_another_attempt_is_refused(alice: User, bob: User) -> None:
    alice_client, bob_client = logged_in(alice), logged_in(bob)
    declare(alice_client, phone="13700000007")
    declare(bob_client, phone="13700000007", id_number=resident_id(seq="321"))
    alice_client.post("/me/identity/phone/", {"action": "send"})
    code_for_alice = sms_code("13700000007")
    # bob cannot use alice's code (it is bound to alice's attempt), and has none of his own
    response = bob_client.post("/me/identity/phone/", {"action": "confirm", "code": code_for_alice})
    assert response.status_code == 302 and not PersonIdentity.objects.filter(user=bob).exists()


def test_phone3_sandbox_failing_phone(alice: User) -> None:
    client = logged_in(alice)
    declare(client, phone="13700000000")
    response = client.post("/me/identity/phone/", {"action": "send"})
    attempt = VerificationAttempt.objects.get()
    assert response["Location"] == attempt.get_absolute_url()
    assert attempt.status == Status.FAILED and "手机号" in attempt.reason
    assert not OneTimeCode.objects.exists()


# --- face -------------------------------------------------------------------------------------


def test_face_needs_the_agreement(alice: User) -> None:
    client = logged_in(alice)
    declare(client)
    html = page(client.get("/me/identity/face/"))
    assert "已阅读并同意《个人信息保护政策》与《个人生物识别信息保护声明》" in html
    response = client.post("/me/identity/face/", {})
    assert response.status_code == 400 and "请阅读并同意" in page(response)
    assert not VerificationAttempt.objects.exists()


def test_face_flow_with_the_sandbox_page(alice: User) -> None:
    client = logged_in(alice)
    declare(client)
    response = client.post("/me/identity/face/", {"agree": "on"})
    assert response.status_code == 302
    sandbox_url = path_of(response["Location"])
    assert sandbox_url.startswith("/me/identity/sandbox/face/")
    attempt = VerificationAttempt.objects.get()
    assert attempt.status == Status.STARTED
    sandbox = page(client.get(sandbox_url))
    assert "沙箱" in sandbox and "模拟成功" in sandbox and "模拟失败" in sandbox
    return_url = f"/me/identity/face/return/{attempt.uuid}/"
    # Coming back before finishing (or with a forged "ok") does not verify anything.
    pending = client.get(return_url + "?result=passed&ok=1")
    assert pending.status_code == 200 and "刷新结果" in page(pending)
    attempt.refresh_from_db()
    assert attempt.status == Status.STARTED
    response = client.post(sandbox_url, {"outcome": "passed"})
    assert path_of(response["Location"]) == return_url
    response = client.get(return_url)
    assert response["Location"] == attempt.get_absolute_url()
    attempt.refresh_from_db()
    assert attempt.status == Status.PASSED
    assert PersonIdentity.objects.get(user=alice).method == "face"


def test_face_simulated_failure_and_failing_name(alice: User, bob: User) -> None:
    client = logged_in(alice)
    declare(client)
    sandbox_url = path_of(client.post("/me/identity/face/", {"agree": "on"})["Location"])
    client.post(sandbox_url, {"outcome": "failed"})
    attempt = VerificationAttempt.objects.get()
    client.get(f"/me/identity/face/return/{attempt.uuid}/")
    attempt.refresh_from_db()
    assert attempt.status == Status.FAILED and "人脸比对未通过" in attempt.reason

    bob_client = logged_in(bob)
    declare(bob_client, name="测试失败", id_number=resident_id(seq="555"))
    sandbox_url = path_of(bob_client.post("/me/identity/face/", {"agree": "on"})["Location"])
    bob_client.post(sandbox_url, {"outcome": "passed"})  # the name rule wins
    bob_attempt = VerificationAttempt.objects.get(user=bob)
    bob_client.get(f"/me/identity/face/return/{bob_attempt.uuid}/")
    bob_attempt.refresh_from_db()
    assert bob_attempt.status == Status.FAILED
    assert not PersonIdentity.objects.exists()


def test_face_return_of_another_user_is_404(alice: User, bob: User) -> None:
    client = logged_in(alice)
    declare(client)
    client.post("/me/identity/face/", {"agree": "on"})
    attempt = VerificationAttempt.objects.get()
    SandboxFaceSession.objects.update(outcome="passed")
    assert logged_in(bob).get(f"/me/identity/face/return/{attempt.uuid}/").status_code == 404
    attempt.refresh_from_db()
    assert attempt.status == Status.STARTED


# --- rules across methods ---------------------------------------------------------------------


def test_verified_user_cannot_verify_again(alice: User) -> None:
    tab1, tab2 = logged_in(alice), logged_in(alice)
    declare(tab1)
    verify_with_bank4(tab2)
    response = tab1.get("/me/identity/start/")
    assert response["Location"] == "/me/identity/"
    # The declaration left in the other tab is refused too, before any provider call.
    with mock.patch.object(SandboxProvider, "check_bank4", autospec=True) as bank4:
        response = tab1.post(
            "/me/identity/bank-card/", {"card_number": GOOD_CARD, "phone": "13800000001"}
        )
    bank4.assert_not_called()
    assert response["Location"] == "/me/identity/"
    html = page(tab1.get("/me/identity/"))
    assert "无需重复认证" in html and 'data-status="verified"' in html
    assert VerificationAttempt.objects.count() == 1


def test_one_document_verifies_one_account(alice: User, bob: User) -> None:
    verify_with_bank4(logged_in(alice))
    response = declare(logged_in(bob), name="何建宇", id_number=GOOD_ID)
    assert response.status_code == 400 and "已用于其他账户" in page(response)
    assert not PersonIdentity.objects.filter(user=bob).exists()


def test_attempts_are_rate_limited_per_user(alice: User, settings: Any) -> None:
    settings.QIANSHU_IDENTITY_ATTEMPTS_PER_DAY = 3
    client = logged_in(alice)
    declare(client)
    for _ in range(3):
        client.post("/me/identity/bank-card/", {"card_number": FAIL_CARD, "phone": "13800000001"})
    with mock.patch.object(SandboxProvider, "check_bank4", autospec=True) as bank4:
        response = client.post(
            "/me/identity/bank-card/", {"card_number": GOOD_CARD, "phone": "13800000001"}
        )
    bank4.assert_not_called()
    assert response["Location"] == "/me/identity/"
    assert "今日认证次数已用完" in page(client.get("/me/identity/"))
    assert VerificationAttempt.objects.count() == 3


def test_id_numbers_are_encrypted_at_rest(alice: User) -> None:
    verify_with_bank4(logged_in(alice))
    with connection.cursor() as cursor:
        for table in ["identity_personidentity", "identity_verificationattempt"]:
            cursor.execute(f"SELECT * FROM {table}")
            raw = repr(cursor.fetchall())
            assert GOOD_ID not in raw and GOOD_ID[6:14] not in raw
            assert GOOD_CARD not in raw
    identity = PersonIdentity.objects.get(user=alice)
    assert identity.id_number() == GOOD_ID
    assert identity.number_hmac == crypto.number_hmac("resident_id", GOOD_ID)
    # The ciphertext is bound to its user: on another user's row it no longer decrypts.
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(bytes(identity.number_encrypted), user_id=alice.pk + 1)


def test_the_session_keeps_the_declaration_encrypted(alice: User) -> None:
    client = logged_in(alice)
    declare(client)
    assert GOOD_ID not in repr(dict(client.session))


def test_result_of_another_user_is_404(alice: User, bob: User) -> None:
    attempt = verify_with_bank4(logged_in(alice))
    bob_client = logged_in(bob)
    assert bob_client.get(attempt.get_absolute_url()).status_code == 404
    assert logged_in(alice).get(attempt.get_absolute_url()).status_code == 200


# --- manual review submissions ----------------------------------------------------------------


def upload(name: str, data: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def test_manual_review_submission(alice: User) -> None:
    client = logged_in(alice)
    declare(client, id_type="hk_macau_permit", id_number="H12345678", name="陈大文")
    response = client.post(
        "/me/identity/manual/",
        {
            "front": upload("front.jpg", image_bytes("JPEG"), "image/jpeg"),
            "handheld": upload("hand.png", image_bytes("PNG")),
        },
    )
    attempt = VerificationAttempt.objects.get()
    assert response["Location"] == attempt.get_absolute_url()
    assert attempt.status == Status.PENDING_REVIEW and attempt.provider == ""
    assert attempt.front_photo is not None and attempt.front_photo.content_type == "image/jpeg"
    assert attempt.handheld_photo is not None
    assert attempt.handheld_photo.content_type == "image/png"
    html = page(client.get(attempt.get_absolute_url()))
    assert "已提交，等待人工审核" in html and "15~30 分钟" in html
    status = page(client.get("/me/identity/"))
    assert "人工审核中" in status
    # The owner sees her own photo; no new attempt while one is pending.
    photo = client.get(f"/me/identity/attempts/{attempt.uuid}/photo/front/")
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"
    assert photo["Cache-Control"] == "private, no-store"
    assert client.get("/me/identity/start/")["Location"] == "/me/identity/"


SIX_MB_JPEG = image_bytes("JPEG") + b"\0" * (6 * 1024 * 1024)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\0" * 2000
CORRUPT_PNG = image_bytes("PNG")[:60] + b"\x00garbage" * 40


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("big.jpg", SIX_MB_JPEG, "超过 5 MB"),
        ("setup.png", EXE, "不是 JPG 或 PNG 图片"),
        ("broken.png", CORRUPT_PNG, "已损坏"),
        ("empty.png", b"", "空文件"),
        ("anim.gif", b"GIF89a" + image_bytes("GIF")[6:], "只支持 JPG、PNG"),
        ("tiny.png", image_bytes("PNG", (20, 20)), "太小"),
    ],
)
def test_bad_uploads_get_a_clear_message(alice: User, name: str, data: bytes, message: str) -> None:
    client = logged_in(alice)
    declare(client, id_type="passport", id_number="E12345678", name="John Smith")
    response = client.post(
        "/me/identity/manual/",
        {"front": upload(name, data), "handheld": upload("ok.png", image_bytes("PNG"))},
    )
    assert response.status_code == 400
    html = page(response)
    assert message in html and name in html
    assert not VerificationAttempt.objects.exists()


def test_photos_of_another_user_are_404(alice: User, bob: User) -> None:
    client = logged_in(alice)
    declare(client, id_type="passport", id_number="E12345678", name="John Smith")
    client.post(
        "/me/identity/manual/",
        {"front": upload("f.png", image_bytes()), "handheld": upload("h.png", image_bytes())},
    )
    attempt = VerificationAttempt.objects.get()
    bob_client = logged_in(bob)
    for url in [
        f"/me/identity/attempts/{attempt.uuid}/",
        f"/me/identity/attempts/{attempt.uuid}/photo/front/",
        f"/me/identity/attempts/{attempt.uuid}/photo/handheld/",
    ]:
        assert bob_client.get(url).status_code == 404
    assert client.get(f"/me/identity/attempts/{attempt.uuid}/photo/other/").status_code == 404


# --- configuration ----------------------------------------------------------------------------


def test_sandbox_is_refused_outside_debug(alice: User, settings: Any) -> None:
    settings.DEBUG = False
    settings.QIANSHU_IDENTITY_SANDBOX_ALLOWED = False
    with pytest.raises(SystemCheckError, match=r"qianshu\.identity\.E001"):
        call_command("check")
    client = logged_in(alice)
    declare(client)
    response = client.post(
        "/me/identity/bank-card/", {"card_number": GOOD_CARD, "phone": "13800000001"}
    )
    assert response["Location"] == "/me/identity/method/"
    assert "实名认证服务暂不可用" in page(client.get("/me/identity/method/"))
    assert not VerificationAttempt.objects.exists()
    # The sandbox page is gone too.
    SandboxFaceSession.objects.create(token="t" * 20, masked_name="*", return_url="/")
    assert client.get(f"/me/identity/sandbox/face/{'t' * 20}/").status_code == 404
    # Explicitly allowed (a staging system): no error.
    settings.QIANSHU_IDENTITY_SANDBOX_ALLOWED = True
    call_command("check")


def test_unknown_provider_is_a_check_error(settings: Any) -> None:
    settings.QIANSHU_IDENTITY_PROVIDER = "acme"
    with pytest.raises(SystemCheckError, match=r"qianshu\.identity\.E002"):
        call_command("check")


def test_profile_card_template(alice: User) -> None:
    from django.template.loader import render_to_string

    html = render_to_string("identity/_profile_card.html", {"user": alice})
    assert "未认证" in html and "/me/identity/" in html
    verify_with_bank4(logged_in(alice))
    alice.refresh_from_db()
    html = render_to_string("identity/_profile_card.html", {"user": alice})
    assert "已认证" in html and "何建宇" in html


def test_verification_leads_back_to_the_page_that_asked_for_it(alice: Any) -> None:
    """A first-time signer sent to 实名认证 from a document goes back to it afterwards."""
    from tests.identity.helpers import logged_in, verify_with_bank4

    client = logged_in(alice)
    client.get("/me/identity/start/?next=/envelopes/0b4c9d38-0000-4000-8000-000000000000/sign/")
    attempt = verify_with_bank4(client)
    page = client.get(f"/me/identity/attempts/{attempt.uuid}/").content.decode()
    assert 'href="/envelopes/0b4c9d38-0000-4000-8000-000000000000/sign/"' in page
    # Another site is never a place to go back to.
    other = logged_in(alice)
    other.get("/me/identity/start/?next=https://evil.example/")
    assert other.session.get("identity_return") is None
