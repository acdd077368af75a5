"""Log in with an SMS code read from the development outbox, at phone and desktop sizes."""

from __future__ import annotations

from typing import Any

import pytest

from qianshu.accounts.models import User
from tests.browser.flows import login_by_sms

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_with_code_from_outbox(page: Any, shot: Any, size: str) -> None:
    phone = "13800000011" if size == "phone" else "13800000012"
    page.goto("/login/")
    shot(page, "login")
    login_by_sms(page, phone)
    assert User.objects.filter(phone=phone).exists()
    assert page.get_by_role("heading", name="个人资料").is_visible()
    shot(page, "profile")
    # logout from the top bar
    page.get_by_role("button", name="退出", exact=True).click()
    page.wait_for_url("**/login/")


def test_wrong_code_shows_an_error(page: Any, shot: Any) -> None:
    page.goto("/login/")
    page.get_by_label("手机号").fill("13800000013")
    page.get_by_role("button", name="获取验证码").click()
    page.locator(".send-result").filter(has_text="验证码已发送").wait_for()
    button = page.locator("[data-send-code]")
    assert button.is_disabled() and "秒后重新获取" in button.inner_text()
    page.get_by_label("验证码").fill("000000")
    page.get_by_role("button", name="登录 / 注册").click()
    page.get_by_text("验证码错误或已失效").wait_for()
    shot(page, "wrong-code")
