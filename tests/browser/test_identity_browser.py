"""Real-name verification with the sandbox provider, the signing PIN and the certificate, and a
manual review decided by an operator in the back office — in the browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qianshu.accounts.models import User
from qianshu.identity.models import PersonIdentity, SigningCredential
from qianshu.pki.actions import do_init_pki
from tests.browser.flows import login_by_sms
from tests.identity.helpers import image_bytes, resident_id

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONES = {"phone": "13800000031", "desktop": "13800000032"}


@pytest.fixture(autouse=True)
def _pki() -> None:
    do_init_pki(name="测试平台")


def test_verify_by_face_with_the_sandbox_then_set_the_pin(page: Any, shot: Any, size: str) -> None:
    phone = PHONES[size]
    login_by_sms(page, phone)
    page.goto("/me/identity/")
    page.get_by_test_id("identity-start").click()
    # step 1: identity
    page.locator("#id_id_type").select_option(label="居民身份证")
    page.locator("#id_name").fill("何建宇")
    page.locator("#id_id_number").fill(resident_id(birth="19881203", seq="681"))
    assert page.locator("#id_phone").input_value() == phone
    shot(page, "step1")
    page.get_by_test_id("identity-next").click()
    # step 2: method
    page.get_by_test_id("method-face").click()
    shot(page, "step2")
    page.get_by_test_id("identity-method-next").click()
    page.locator("#id_agree").check()
    page.get_by_test_id("identity-face-confirm").click()
    # the (sandbox) face provider's page
    page.get_by_test_id("sandbox-face").wait_for()
    shot(page, "sandbox-face")
    page.get_by_test_id("sandbox-face-pass").click()
    # step 3: result
    result = page.get_by_test_id("identity-result")
    result.wait_for()
    assert result.get_attribute("data-status") == "passed"
    assert "核验成功" in page.get_by_test_id("identity-result-title").inner_text()
    shot(page, "step3")
    identity = PersonIdentity.objects.get(user__phone=phone)
    assert identity.name == "何建宇"

    # the signing PIN: a trivial one is refused, then a good one issues the certificate
    page.goto("/me/identity/pin/")
    page.locator("#id_pin1").fill("123456")
    page.locator("#id_pin2").fill("123456")
    page.get_by_test_id("pin-set-submit").click()
    page.locator(".errorlist, .msg-error").first.wait_for()
    assert not SigningCredential.objects.filter(user__phone=phone).exists()
    page.locator("#id_pin1").fill("480613")
    page.locator("#id_pin2").fill("480613")
    page.get_by_test_id("pin-set-submit").click()
    page.get_by_test_id("certificate").wait_for()  # the new certificate is shown
    assert SigningCredential.objects.filter(user__phone=phone).exists()
    assert "何建宇" in page.get_by_test_id("certificate-subject").inner_text()
    with page.expect_download() as download:
        page.get_by_test_id("certificate-download-pem").click()
    assert Path(download.value.path()).read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    shot(page, "certificate")


def test_passport_manual_review_approved_by_an_operator(
    new_context: Any, shot: Any, tmp_path: Path
) -> None:
    page = new_context("phone").new_page()
    login_by_sms(page, "13800000033")
    page.goto("/me/identity/start/")
    page.locator("#id_id_type").select_option(label="护照")
    page.locator("#id_name").fill("JOHN SMITH")
    page.locator("#id_id_number").fill("E12345678")
    page.get_by_test_id("identity-next").click()
    # passport holders only get manual review
    page.get_by_test_id("identity-method-form").wait_for()
    assert page.get_by_test_id("method-face").count() == 0
    page.get_by_test_id("method-manual").click()
    page.get_by_test_id("identity-method-next").click()
    front, handheld = tmp_path / "front.jpg", tmp_path / "handheld.png"
    front.write_bytes(image_bytes("JPEG"))
    handheld.write_bytes(image_bytes("PNG"))
    page.locator("#id_front").set_input_files(str(front))
    page.locator("#id_handheld").set_input_files(str(handheld))
    page.get_by_test_id("identity-manual-submit").click()
    page.get_by_test_id("identity-result").wait_for()
    assert page.get_by_test_id("identity-result").get_attribute("data-status") == "pending_review"
    shot(page, "submitted")

    User.objects.create_user("13900000000", "operator-pass-1", is_staff=True)
    operator = new_context("desktop").new_page()
    operator.goto("/login/password/")
    operator.get_by_label("手机号").fill("13900000000")
    operator.get_by_label("密码").fill("operator-pass-1")
    operator.get_by_role("button", name="登录").click()
    operator.goto("/backoffice/identity/")
    operator.get_by_test_id("review-open").first.click()
    # Wait (up to the default timeout) for each photo to load and decode: checking right after
    # the click raced the images on a busy machine.
    for photo in ("review-photo-front", "review-photo-handheld"):
        operator.wait_for_function(
            "id => { const img = document.querySelector(`[data-testid='${id}']`);"
            " return img !== null && img.complete && img.naturalWidth > 0; }",
            arg=photo,
        )
    shot(operator, "review")
    operator.once("dialog", lambda dialog: dialog.accept())
    operator.get_by_test_id("review-approve").click()
    operator.get_by_test_id("review-queue-empty").wait_for()  # back to the (now empty) queue
    shot(operator, "decided")

    page.goto("/me/identity/")
    status = page.get_by_test_id("identity-status")
    assert status.get_attribute("data-status") == "verified"
    shot(page, "verified")
