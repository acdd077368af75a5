"""手机扫码认证 in the browser (issue 12, 10b; seed 001): the QR code on the computer's 实名认证
page, the phone that scans it, logs in as the same account and verifies (sandbox face), and the
computer page that notices and moves on."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from qianshu.identity.models import IdentityHandoff, PersonIdentity
from tests.browser.flows import login_by_sms, read_code_from_outbox
from tests.identity.helpers import resident_id

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "13800000071"


@pytest.fixture(autouse=True)
def _sandbox(settings: Any) -> None:
    settings.QIANSHU_IDENTITY_PROVIDER = "sandbox"
    settings.QIANSHU_IDENTITY_SANDBOX_ALLOWED = True


def test_scan_on_the_computer_verify_on_the_phone(new_context: Any, shot: Any) -> None:
    computer = new_context("desktop").new_page()
    login_by_sms(computer, PHONE)
    computer.goto("/me/identity/")
    card = computer.get_by_test_id("identity-handoff")
    card.wait_for()
    assert computer.get_by_test_id("identity-handoff-qr").locator("svg").is_visible()
    shot(computer, "1-computer-qr")
    link = computer.get_by_test_id("identity-handoff-link").get_attribute("href")
    assert link and "/me/identity/handoff/" in link

    phone = new_context("phone").new_page()
    phone.goto(urlsplit(link).path)
    phone.wait_for_url("**/login/**")
    assert "138****0071" in phone.get_by_test_id("login-hinted-phone").inner_text()
    shot(phone, "2-phone-login")
    phone.get_by_role("button", name="获取验证码").click()
    phone.locator(".send-result").filter(has_text="验证码已发送").wait_for()
    phone.get_by_label("验证码").fill(read_code_from_outbox(phone.context, PHONE))
    phone.get_by_role("button", name="登录 / 注册").click()
    phone.get_by_test_id("identity-start-form").wait_for()
    assert IdentityHandoff.objects.get().used_at is not None
    # the computer notices that the phone took over
    computer.get_by_test_id("identity-handoff-opened").wait_for()
    shot(computer, "3-computer-opened")

    phone.locator("#id_id_type").select_option(label="居民身份证")
    phone.locator("#id_name").fill("何建宇")
    phone.locator("#id_id_number").fill(resident_id(birth="19920817", seq="425"))
    shot(phone, "4-phone-identity")
    phone.get_by_test_id("identity-next").click()
    phone.get_by_test_id("method-face").click()
    phone.get_by_test_id("identity-method-next").click()
    phone.locator("#id_agree").check()
    phone.get_by_test_id("identity-face-confirm").click()
    phone.get_by_test_id("sandbox-face").wait_for()
    shot(phone, "5-phone-face")
    phone.get_by_test_id("sandbox-face-pass").click()
    phone.get_by_test_id("identity-result").wait_for()
    assert phone.get_by_test_id("identity-result").get_attribute("data-status") == "passed"
    shot(phone, "6-phone-verified")

    # the computer moves on by itself: the status page now says 已认证
    computer.locator('[data-testid="identity-status"][data-status="verified"]').wait_for()
    assert "何建宇" in computer.get_by_test_id("identity-name").inner_text()
    shot(computer, "7-computer-verified")
    assert PersonIdentity.objects.get(user__phone=PHONE).name == "何建宇"

    # the used QR code does not work a second time
    again = new_context("phone").new_page()
    response = again.goto(urlsplit(link).path)
    assert response is not None and response.status == 410
    again.get_by_test_id("identity-handoff-error").wait_for()
    shot(again, "8-replay-refused")


def test_no_qr_code_at_phone_size(new_context: Any, shot: Any) -> None:
    page = new_context("phone").new_page()
    login_by_sms(page, PHONE)
    page.goto("/me/identity/")
    page.get_by_test_id("identity-start").wait_for()
    assert not page.get_by_test_id("identity-handoff").is_visible()
    shot(page, "phone-identity")
