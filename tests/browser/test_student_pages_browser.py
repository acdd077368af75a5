"""The student's 邀请函 in a real browser, at phone and desktop size: 同意 opens the manual's
repeated confirmation (现在签约), then the signature and 签署密码 — the saved default signature
on the desktop, one drawn on the pad on the phone — and the invitation waits for 鉴证. Also
screenshots of the other student pages (线上签约, 解约办理, 录入协议书)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qianshu.employment.models import Agreement
from tests.browser.flows import draw_strokes, login_by_sms
from tests.browser.scenario import off_loop
from tests.employment.test_agreements import invite
from tests.employment.world import World, make_world
from tests.support.personas import PIN

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(transactional_db: Any) -> World:
    return off_loop(make_world)


def test_a_student_accepts_an_invitation_through_the_dialogs(
    world: World, page: Any, size: str, shot: Callable[[Any, str], Path]
) -> None:
    user = world.users["黄河"]
    agreement = off_loop(invite, world, "黄河")
    off_loop(invite, world, "黄河", "employer2")
    if size == "phone":
        off_loop(lambda: user.signatures.all().delete())
    login_by_sms(page, user.phone)
    page.goto("/employment/")
    page.get_by_test_id("student-info").wait_for()
    shot(page, "home")
    page.get_by_test_id("menu-invitations").click()
    page.get_by_test_id("invitation-row").first.wait_for()
    shot(page, "invitations")
    page.goto(f"/employment/agreements/{agreement.uuid}/student/")
    page.get_by_test_id("letter-accept").click()
    page.get_by_test_id("dialog-confirm").get_by_text("同意签约后将与该单位").wait_for()
    shot(page, "confirm")
    page.get_by_test_id("letter-sign-now").click()
    dialog = page.get_by_test_id("dialog-accept")
    dialog.wait_for()
    if size == "phone":
        dialog.get_by_test_id("accept-no-signature").wait_for()
        draw_strokes(page)
        dialog.get_by_test_id("signature-save").click()
        dialog.get_by_text("已使用本次书写的签名").wait_for()  # the PNG is made asynchronously
        assert dialog.locator("input[name=signature]").input_value().startswith("data:image/png")
    shot(page, "sign")
    dialog.get_by_test_id("pin").fill(PIN)
    dialog.get_by_test_id("accept-submit").click()
    page.wait_for_url("**/student/invitations/")
    page.get_by_text("等待签约鉴证").first.wait_for()
    assert page.get_by_text("只能查看").count() >= 1
    shot(page, "accepted")
    assert off_loop(lambda: Agreement.objects.get(pk=agreement.pk).status) == "accepted"
    for name, url in (
        ("terminations", "/employment/student/terminations/"),
        ("paper", "/employment/student/paper/"),
    ):
        page.goto(url)
        shot(page, name)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], "the page scrolls sideways"


def test_a_student_applies_to_terminate_through_the_notice_dialog(
    world: World, new_context: Callable[[str], Any], shot: Callable[[Any, str], Path]
) -> None:
    from tests.employment.test_agreements import accept, pass_it

    user = world.users["黄河"]
    off_loop(lambda: pass_it(world, accept(world, invite(world, "黄河"), "黄河")))
    page = new_context("phone").new_page()
    login_by_sms(page, user.phone)
    page.goto("/employment/student/terminations/")
    page.get_by_test_id("termination-apply").click()
    dialog = page.get_by_test_id("dialog-apply")
    dialog.get_by_text("解约机会仅有一次").wait_for()
    submit = dialog.get_by_test_id("termination-submit")
    assert submit.is_disabled()  # until the 解约须知 box is ticked
    dialog.get_by_test_id("termination-rules").check()
    dialog.get_by_test_id("termination-reason").fill("考取研究生")
    dialog.get_by_test_id("pin").fill(PIN)
    shot(page, "apply")
    submit.click()
    page.get_by_text("等待单位同意").wait_for()
    shot(page, "applied")
