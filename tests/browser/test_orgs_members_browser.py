"""Members in the browser: alice (administrator of a verified organisation) invites bob as
用印人; bob, on his own device, opens the SMS link from the outbox, logs in with the phone filled
in, accepts, and switches to the organisation in the top bar."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from qianshu.orgs.models import Invitation, Membership
from tests.browser.flows import login_by_sms, read_code_from_outbox
from tests.support.accounts import PERSONAS
from tests.support.personas import make_verified_org, make_verified_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ORG_NAME = "北京云签科技有限公司"
LINK = re.compile(r"https?://\S+/orgs/invitations/[A-Za-z0-9_\-]+/")


def invitation_link_from_outbox(context: Any, phone: str) -> str:
    page = context.new_page()
    try:
        page.goto(f"/dev/outbox/?recipient={phone}&refresh=0")
        item = page.locator(".outbox-item").filter(has_text="org_invitation").first
        item.wait_for()
        match = LINK.search(item.inner_text())
        assert match, item.inner_text()
        return match.group(0)
    finally:
        page.close()


def test_invite_accept_and_switch(
    page: Any, new_context: Callable[[str], Any], shot: Any, size: str
) -> None:
    alice = make_verified_person("alice")
    org = make_verified_org(alice, name=ORG_NAME)
    bob_phone = PERSONAS["bob"]

    # alice invites bob as 用印人.
    login_by_sms(page, alice.phone)
    page.goto(f"/orgs/{org.uuid}/")
    page.get_by_test_id("org-overview").wait_for()
    shot(page, "alice-overview")
    page.goto(f"/orgs/{org.uuid}/members/")
    page.get_by_label("被邀请人手机号").fill(bob_phone)
    page.get_by_label("角色").select_option(label="用印人")
    page.get_by_test_id("invite-submit").click()
    page.locator(".msg-success").filter(has_text="已向").wait_for()
    assert page.get_by_test_id("invitation-row").count() == 1
    shot(page, "alice-invited")
    assert Invitation.objects.get(org=org).role == Membership.Role.SEAL_KEEPER

    # bob, on his own device, opens the link from the SMS.
    bob_context = new_context(size)
    link = invitation_link_from_outbox(bob_context, bob_phone)
    bob = bob_context.new_page()
    bob.goto(link)
    bob.wait_for_url("**/login/**")
    assert bob_phone not in bob.url  # the number is shown masked, never put into the URL
    assert (
        f"{bob_phone[:3]}****{bob_phone[-4:]}"
        in bob.get_by_test_id("login-hinted-phone").inner_text()
    )
    bob.get_by_role("button", name="获取验证码").click()
    bob.locator(".send-result").filter(has_text="验证码已发送").wait_for()
    bob.get_by_label("验证码").fill(read_code_from_outbox(bob_context, bob_phone))
    bob.get_by_role("button", name="登录 / 注册").click()
    bob.wait_for_url("**/orgs/invitations/**")
    invitation = bob.get_by_test_id("invitation")
    invitation.wait_for()
    assert ORG_NAME in invitation.inner_text()
    assert "用印人" in invitation.inner_text()
    shot(bob, "bob-invitation")
    bob.get_by_test_id("invitation-accept").click()
    bob.wait_for_url(f"**/orgs/{org.uuid}/")
    assert "用印人" in bob.get_by_test_id("org-my-role").inner_text()
    assert Membership.objects.get(org=org, user__phone=bob_phone).role == "seal_keeper"

    # The top bar still says 个人; bob switches to the organisation there.
    current = bob.get_by_test_id("context-current")
    assert current.inner_text().strip() == "个人"
    current.click()
    option = bob.locator(f'[data-testid="context-option"][data-org="{org.uuid}"]')
    option.wait_for()
    assert current.is_visible()
    shot(bob, "bob-switcher-open")
    box = option.bounding_box()
    viewport = bob.viewport_size
    assert box and viewport and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    option.click()
    bob.wait_for_url(f"**/orgs/{org.uuid}/")
    bob.locator(".msg-success").filter(has_text="已切换到").wait_for()
    assert ORG_NAME in bob.get_by_test_id("context-current").inner_text()
    assert bob.get_by_test_id("org-acting").is_visible()
    shot(bob, "bob-acting-for-org")

    # alice sees bob among the members.
    page.goto(f"/orgs/{org.uuid}/members/")
    rows = page.get_by_test_id("member-row")
    assert rows.count() == 2
    assert "138****0002" in page.get_by_test_id("member-list").inner_text()
    shot(page, "alice-members")
