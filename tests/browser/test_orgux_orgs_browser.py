"""Issue 12 in the browser, at phone and desktop size:

* defect 2: a verified person who belongs to no organisation finds 我的组织 / 创建组织 (the 我的
  page on a phone, the 用户中心 menu on a desktop);
* 帮助中心 (seed 000) reached from 我的 and from the top navigation;
* defect 7 and 《隐私保护协议》 (seed 002): on 创建组织, a form error keeps the licence
  (已上传：…) and the consent box; the next submit creates the organisation without a new upload.
"""

from __future__ import annotations

from typing import Any

import pytest

from qianshu.orgs.models import Organization
from tests.browser.flows import login_by_sms
from tests.orgs.conftest import licence_png
from tests.support.personas import make_verified_person, valid_credit_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COMPANY = "武汉示例科技有限公司"

NO_SIDEWAYS = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def _in_viewport(page: Any, locator: Any) -> bool:
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


def test_a_person_without_organisation_finds_my_organisations_and_help(
    page: Any, shot: Any, size: str
) -> None:
    person = make_verified_person("alice")
    login_by_sms(page, person.phone)  # lands on 我的 (/me/)
    assert page.evaluate(NO_SIDEWAYS)
    assert page.get_by_test_id("context-switcher").count() == 0  # no organisation, no switcher
    card = page.get_by_test_id("profile-orgs-card")
    card.scroll_into_view_if_needed()
    assert "您还没有加入任何组织" in card.inner_text()
    create = page.get_by_test_id("profile-org-create")
    assert create.is_visible() and _in_viewport(page, create)
    shot(page, "1-me")
    if size == "phone":
        assert page.locator(".tabbar").is_visible()
        page.locator(".tabbar").get_by_text("我的").click()
        page.wait_for_url("**/me/")
    else:
        menu = page.get_by_test_id("centre-orgs")
        assert menu.is_visible()
        menu.click()
        page.wait_for_url("**/orgs/")
        page.get_by_test_id("org-list-empty").wait_for()
        assert page.get_by_test_id("org-create").is_visible()
        shot(page, "2-my-orgs")
        page.goto("/me/")
    page.get_by_test_id("profile-org-create").click()
    page.wait_for_url("**/orgs/new/")
    page.get_by_test_id("org-create-form").wait_for()
    assert page.evaluate(NO_SIDEWAYS)

    # 帮助中心: from the 我的 page on a phone, from the top navigation on a desktop.
    page.goto("/me/")
    if size == "phone":
        page.get_by_test_id("profile-help-link").click()
    else:
        page.get_by_test_id("nav-help").click()
    page.wait_for_url("**/help/")
    page.get_by_test_id("help-toc").wait_for()
    for section in ("sign", "batch", "org", "seal", "send", "verify"):
        assert page.get_by_test_id(f"help-{section}").count() == 1
    assert page.evaluate(NO_SIDEWAYS)
    shot(page, "3-help")


def test_the_licence_survives_a_form_error_and_consent_is_required(
    page: Any, shot: Any, size: str
) -> None:
    person = make_verified_person("alice")
    login_by_sms(page, person.phone)
    page.goto("/orgs/new/")
    page.get_by_test_id("kind-enterprise").click()
    page.locator("#id_licence").set_input_files(
        files=[{"name": "营业执照.png", "mimeType": "image/png", "buffer": licence_png()}]
    )
    page.locator("#id_name").fill(COMPANY)
    page.locator("#id_credit_code").fill("9144030071526726XA")  # a wrong check character
    page.locator("#id_legal_rep_name").fill("赵法人")
    # No consent ticked yet: refused, saying why; the licence is kept already.
    page.get_by_test_id("org-create-submit").click()
    consent = page.get_by_test_id("privacy-consent")
    consent.get_by_text("请阅读并同意《隐私保护协议》").wait_for()
    pending = page.get_by_test_id("licence-pending")
    assert "已上传：营业执照.png" in pending.inner_text()
    assert "校验位不正确" in page.content()
    assert page.evaluate(NO_SIDEWAYS)
    shot(page, "1-errors-licence-kept")
    assert page.get_by_test_id("privacy-link").get_attribute("href") == "/privacy/"

    # Correct the code and tick the box: no new file chosen.
    page.locator("#id_credit_code").fill(valid_credit_code())
    page.get_by_test_id("privacy-checkbox").check()
    assert page.locator("#id_name").input_value() == COMPANY  # typed input kept too
    page.get_by_test_id("org-create-submit").click()
    page.get_by_test_id("org-verify-status").wait_for()
    shot(page, "2-created")
    org = Organization.objects.get(name=COMPANY)
    assert org.licence is not None and org.licence.read() == licence_png()
    assert org.privacy_version and org.privacy_consent_at is not None
