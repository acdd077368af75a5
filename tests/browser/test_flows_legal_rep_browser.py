"""The legal representative's SMS link on a phone, from nothing: login with the phone filled in,
real-name verification (sandbox face), and back on the authorisation (issue 12, defect 4)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from qianshu.orgs.models import Organization
from tests.browser.flows import read_code_from_outbox
from tests.identity.helpers import resident_id
from tests.orgs.conftest import client_for
from tests.orgs.test_verification import COMPANY, create
from tests.support.accounts import latest_sms
from tests.support.personas import make_verified_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PHONE = "13800000061"
REP_PHONE = "13800000062"


@pytest.fixture(autouse=True)
def _sandboxes(settings: Any) -> None:
    settings.QIANSHU_IDENTITY_PROVIDER = "sandbox"
    settings.QIANSHU_IDENTITY_SANDBOX_ALLOWED = True
    settings.QIANSHU_REGISTRY_PROVIDER = "sandbox"
    settings.QIANSHU_REGISTRY_SANDBOX_ALLOWED = True
    settings.QIANSHU_BANK_PROVIDER = "sandbox"
    settings.QIANSHU_BANK_SANDBOX_ALLOWED = True


def authorisation_link() -> str:
    admin = make_verified_person("alice", ADMIN_PHONE)
    client = client_for(admin)
    assert create(client).status_code == 302
    org = Organization.objects.get(name=COMPANY)
    response = client.post(
        f"/orgs/{org.uuid}/verify/legal-rep/", {"action": "send", "phone": REP_PHONE}
    )
    assert response.status_code == 302
    match = re.search(r"https?://[^/\s]+(/orgs/legal-rep/[^/\s]+/)", latest_sms(REP_PHONE).body)
    assert match
    return match.group(1)


def test_link_login_verification_and_back_to_the_authorisation_on_a_phone(
    new_context: Any, shot: Any
) -> None:
    link = authorisation_link()
    page = new_context("phone").new_page()
    page.goto(link)
    # the login page: the phone of the link is filled in (masked), nothing to type
    page.wait_for_url("**/login/**")
    assert REP_PHONE not in page.url
    assert page.get_by_test_id("login-hinted-phone").inner_text().count("138****0062") == 1
    shot(page, "1-login-hinted")
    page.get_by_role("button", name="获取验证码").click()
    page.locator(".send-result").filter(has_text="验证码已发送").wait_for()
    assert "请输入手机号" not in page.content()
    page.get_by_label("验证码").fill(read_code_from_outbox(page.context, REP_PHONE))
    shot(page, "2-login-code")
    page.get_by_role("button", name="登录 / 注册").click()
    # back on the link: a new account must verify its real name first
    page.get_by_test_id("legal-rep-refused").wait_for()
    shot(page, "3-verify-first")
    page.get_by_test_id("legal-rep-verify-identity").click()
    page.get_by_test_id("identity-start-form").wait_for()
    page.locator("#id_id_type").select_option(label="居民身份证")
    page.locator("#id_name").fill("赵法人")
    page.locator("#id_id_number").fill(resident_id(birth="19750412", seq="317"))
    assert page.locator("#id_phone").input_value() == REP_PHONE
    shot(page, "4-identity")
    page.get_by_test_id("identity-next").click()
    page.get_by_test_id("method-face").click()
    page.get_by_test_id("identity-method-next").click()
    page.locator("#id_agree").check()
    page.get_by_test_id("identity-face-confirm").click()
    page.get_by_test_id("sandbox-face").wait_for()
    page.get_by_test_id("sandbox-face-pass").click()
    result = page.get_by_test_id("identity-result")
    result.wait_for()
    assert result.get_attribute("data-status") == "passed"
    shot(page, "5-verified")
    # the result page returns to the authorisation by itself (2 s)
    page.get_by_test_id("legal-rep-authorise").wait_for()
    assert page.url.endswith(link)
    assert COMPANY in page.content()
    shot(page, "6-authorisation")
    page.get_by_test_id("legal-rep-approve").click()
    page.get_by_text("已同意授权").wait_for()
    shot(page, "7-approved")
    org = Organization.objects.get(name=COMPANY)
    assert org.status == Organization.Status.VERIFIED
