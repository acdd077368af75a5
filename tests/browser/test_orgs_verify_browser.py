"""组织机构认证 in the browser, at phone and desktop sizes: a verified person creates an
organisation with a PNG licence and verifies it by the sandbox transfer (平台给我打款)."""

from __future__ import annotations

from typing import Any

import pytest

from qianshu.orgs.models import Membership, Organization, OrgVerification
from tests.browser.flows import login_by_sms
from tests.orgs.conftest import licence_png
from tests.support.accounts import make_user
from tests.support.personas import make_verified_org, make_verified_person, valid_credit_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONES = {"phone": "13800000041", "desktop": "13800000042"}
COMPANY = "北京星河浏览器测试有限公司"


def test_create_and_verify_an_organisation_by_sandbox_transfer(
    page: Any, shot: Any, size: str
) -> None:
    phone = PHONES[size]
    make_verified_person("孙管理", phone)
    login_by_sms(page, phone)

    # 我的组织 → 创建组织
    page.goto("/orgs/")
    page.get_by_test_id("org-list-empty").wait_for()
    shot(page, "1-my-orgs")
    page.get_by_test_id("org-create").click()
    page.get_by_test_id("org-create-form").wait_for()
    assert "有限责任公司、股份有限公司、个人独资企业等请选择此类型" in page.content()
    page.get_by_test_id("kind-enterprise").click()
    page.locator("#id_licence").set_input_files(
        files=[{"name": "营业执照.png", "mimeType": "image/png", "buffer": licence_png()}]
    )
    page.locator("#id_name").fill(COMPANY)
    credit_code = valid_credit_code()
    page.locator("#id_credit_code").fill(credit_code)
    page.locator("#id_legal_rep_name").fill("赵法人")
    page.get_by_test_id("privacy-checkbox").check()
    shot(page, "2-create-form")
    page.get_by_test_id("org-create-submit").click()

    # 组织机构认证: data, the licence inline, the methods
    status = page.get_by_test_id("org-verify-status")
    status.wait_for()
    assert status.get_attribute("data-status") == "draft"
    org = Organization.objects.get(name=COMPANY)
    assert org.credit_code == credit_code
    assert Membership.objects.get(org=org).role == Membership.Role.ADMIN
    preview = page.get_by_test_id("org-licence-preview")
    preview.scroll_into_view_if_needed()
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=preview.element_handle())
    assert "（推荐）法定代表人认证" in page.content()
    shot(page, "3-verify")

    # 对公打款认证：平台给我打款
    page.get_by_test_id("method-deposit_to_org").click()
    page.get_by_test_id("org-method-next").click()
    page.get_by_test_id("deposit-account-form").wait_for()
    assert page.locator("#id_account_name").input_value() == COMPANY
    page.locator("#id_bank_name").fill("中国工商银行北京分行")
    page.locator("#id_account_number").fill("6222 0200 1234 5678")
    shot(page, "4-bank-account")
    page.get_by_test_id("deposit-request").click()
    page.get_by_test_id("deposit-amount-form").wait_for()
    shot(page, "5-enter-amount")

    # The sandbox bank statement (沙箱) shows what was paid.
    page.get_by_test_id("sandbox-bank-link").click()
    page.get_by_test_id("sandbox-bank").wait_for()
    amount = page.get_by_test_id("sandbox-transfer-amount").first.inner_text().strip()
    assert amount.startswith("0.") and amount != "0.00"
    shot(page, "6-sandbox-bank")
    page.get_by_test_id("sandbox-back-deposit").click()

    # A wrong amount first, then the right one.
    wrong = "0.01" if amount != "0.01" else "0.02"
    page.locator("#id_amount").fill(wrong)
    page.get_by_test_id("deposit-amount-submit").click()
    page.locator(".errorlist").filter(has_text="还可以尝试 2 次").wait_for()
    shot(page, "7-wrong-amount")
    page.locator("#id_amount").fill(amount)
    page.get_by_test_id("deposit-amount-submit").click()

    page.get_by_test_id("org-verified").wait_for()
    assert page.get_by_test_id("org-verify-status").inner_text() == "已认证"
    shot(page, "8-verified")
    org.refresh_from_db()
    assert org.status == Organization.Status.VERIFIED
    transfer = OrgVerification.objects.get(org=org)
    assert (transfer.status, transfer.tries) == (OrgVerification.Status.SUCCEEDED, 1)

    page.goto("/orgs/")
    row = page.get_by_test_id("org-row").filter(has_text=COMPANY)
    assert row.get_by_test_id("org-status").inner_text() == "已认证"
    shot(page, "9-my-orgs-verified")


def test_payment_to_the_platform_confirmed_in_the_back_office(new_context: Any, shot: Any) -> None:
    """我给平台打款 on a phone; an operator confirms receipt in the back office (desktop)."""
    admin_phone, operator_phone = "13800000043", "13900000044"
    admin = make_verified_person("孙管理", admin_phone)
    make_user("operator", phone=operator_phone, is_staff=True)
    org = make_verified_org(
        admin, name=COMPANY, status=Organization.Status.DRAFT, licence=licence_png()
    )
    phone = new_context("phone").new_page()
    login_by_sms(phone, admin_phone)
    phone.goto(f"/orgs/{org.uuid}/verify/")
    phone.get_by_test_id("method-deposit_to_platform").click()
    phone.get_by_test_id("org-method-next").click()
    phone.get_by_test_id("platform-deposit-request").click()
    memo = phone.get_by_test_id("platform-deposit-memo").inner_text().strip()
    amount = phone.get_by_test_id("platform-deposit-amount").inner_text().strip()
    shot(phone, "1-pay-the-platform")
    phone.get_by_test_id("platform-deposit-check").click()
    phone.locator(".msg").filter(has_text="暂未查询到您的打款").wait_for()
    shot(phone, "2-not-received-yet")

    desk = new_context("desktop").new_page()
    login_by_sms(desk, operator_phone)
    desk.goto("/backoffice/")
    assert desk.get_by_test_id("queue-orgs-count").inner_text() == "1"
    desk.goto("/backoffice/orgs/")
    row = desk.get_by_test_id("org-review-row").filter(has_text=COMPANY)
    assert memo in row.inner_text() and amount in row.inner_text()
    shot(desk, "3-backoffice-queue")
    row.get_by_test_id("org-review-open").click()
    image = desk.get_by_test_id("org-review-licence")
    image.wait_for()
    shot(desk, "4-backoffice-review")
    desk.get_by_test_id("org-review-approve").click()
    desk.get_by_test_id("org-review-queue-empty").wait_for()
    shot(desk, "5-backoffice-done")
    org.refresh_from_db()
    assert org.status == Organization.Status.VERIFIED

    phone.goto(f"/orgs/{org.uuid}/verify/")
    phone.get_by_test_id("org-verified").wait_for()
    shot(phone, "6-verified")
