"""文件管理 in the browser: bob's 待我签署 with progress, search, 预览, then ticking two tasks and
批量签署 with his signing PIN — on a phone and on a desktop."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from qianshu.core.meta import TASK
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions import turns as turns_actions
from qianshu.envelopes.models import Envelope, Recipient
from qianshu.pki.actions import do_init_pki
from tests.browser.flows import login_by_sms
from tests.envelopes.helpers import Builder, sign
from tests.support.personas import PIN, make_signer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _send(envelope: Envelope) -> Envelope:
    compose_actions.do_send_envelope(envelope, actor=envelope.initiator, meta=TASK)
    envelope.refresh_from_db()
    return envelope


def _world() -> dict[str, Any]:
    """Made in another thread: Playwright's event loop runs in this one, and signing (pyHanko)
    runs its own."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_make_world).result()


def _make_world() -> dict[str, Any]:
    try:
        return _build_world()
    finally:
        connection.close()


def _build_world() -> dict[str, Any]:
    do_init_pki(name="测试平台")
    alice, bob, charlie = make_signer("alice"), make_signer("bob"), make_signer("charlie")
    build = Builder()
    labour = _send(build.draft(alice, [("sign", 1, bob)], title="劳务合同"))
    three = _send(
        build.draft(
            alice, [("sign", 1, charlie), ("sign", 2, bob), ("sign", 3, alice)], title="三方协议"
        )
    )
    sign(three.recipients.get(routing_order=1), charlie)  # charlie first: 1/3, then bob's turn
    loan = _send(build.draft(alice, [("sign", 1, bob)], title="借款合同", pages=3))
    waiting = _send(build.draft(bob, [("sign", 1, charlie)], title="租赁合同"))
    rejected = _send(build.draft(alice, [("sign", 1, bob)], title="装修合同"))
    turns_actions.do_reject(rejected.recipients.get(), "报价有误", actor=bob, meta=TASK)
    return {"bob": bob, "labour": labour, "three": three, "loan": loan, "waiting": waiting}


def test_bob_searches_his_list_and_batch_signs_two_tasks(page: Any, shot: Any, size: str) -> None:
    w = _world()
    login_by_sms(page, w["bob"].phone)
    page.goto("/envelopes/")
    rows = page.get_by_test_id("list-row")
    rows.first.wait_for()
    assert rows.count() == 3
    assert page.get_by_test_id("todo-count").inner_text() == "3"
    three = page.locator(f'[data-envelope="{w["three"].uuid}"]')
    assert three.get_by_test_id("row-progress").inner_text() == "1/3"
    assert three.get_by_test_id("row-sign").is_visible()
    shot(page, "1-todo")

    # 搜索 by 任务名称, then 重置
    page.get_by_test_id("list-q").fill("三方")
    page.get_by_test_id("list-search-submit").click()
    page.wait_for_url("**q=*")
    assert rows.count() == 1
    shot(page, "2-search")
    page.get_by_test_id("list-reset").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=list-row]').length === 3")

    # 高级搜索: 发起方 — nobody but alice sent bob anything
    page.get_by_test_id("list-advanced").locator("summary").click()
    page.get_by_test_id("list-initiator").fill("李博文")
    page.get_by_test_id("list-advanced").get_by_role("button", name="搜索").click()
    page.get_by_test_id("list-empty").wait_for()
    assert "没有符合条件的任务" in page.get_by_test_id("list-empty").inner_text()
    assert page.get_by_test_id("list-advanced").get_attribute("open") is not None
    shot(page, "2b-advanced")
    page.get_by_test_id("list-reset").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=list-row]').length === 3")

    # 预览: the pages of the document in a dialog
    loan = page.locator(f'[data-envelope="{w["loan"].uuid}"]')
    loan.get_by_test_id("row-preview").click()
    dialog = page.get_by_test_id("preview-dialog")
    dialog.wait_for(state="visible")
    images = dialog.locator("img")
    assert images.count() == 3
    page.wait_for_function(
        "() => document.querySelector('#lists-preview img').complete && "
        "document.querySelector('#lists-preview img').naturalWidth > 0"
    )
    shot(page, "3-preview")
    dialog.get_by_role("button", name="关闭").click()
    dialog.wait_for(state="hidden")

    # tick two tasks, 批量签署
    page.locator(f'[data-envelope="{w["labour"].uuid}"]').get_by_test_id("row-check").check()
    three.get_by_test_id("row-check").check()
    assert page.get_by_test_id("batch-sign").inner_text().endswith("2")
    shot(page, "4-ticked")
    page.get_by_test_id("batch-sign").click()
    page.get_by_test_id("batch-page").wait_for()
    assert page.get_by_test_id("batch-task").count() == 2
    assert page.get_by_test_id("batch-signature").is_visible()
    page.get_by_test_id("batch-pin").fill(PIN)
    shot(page, "5-batch")
    page.get_by_test_id("batch-submit").click()
    page.get_by_test_id("batch-result").wait_for()
    assert page.get_by_test_id("batch-ok-count").inner_text() == "2"
    assert page.get_by_test_id("batch-result-status").all_inner_texts() == ["成功", "成功"]
    shot(page, "6-result")
    bob_rows = Recipient.objects.filter(user=w["bob"], status="done")
    assert {r.envelope_id for r in bob_rows} == {w["labour"].pk, w["three"].pk}

    # back to 待我签署: one task left
    page.get_by_test_id("batch-back-todo").click()
    page.get_by_test_id("list-row").first.wait_for()
    assert page.get_by_test_id("list-row").count() == 1
    assert page.get_by_test_id("todo-count").inner_text() == "1"
    page.get_by_test_id("tab-others").click()
    page.wait_for_url("**tab=others")
    assert page.get_by_test_id("list-row").count() == 2  # 三方协议 (alice's turn), 租赁合同
    shot(page, "7-others")
    page.get_by_test_id("tab-voided").click()
    page.wait_for_url("**tab=voided")
    assert page.get_by_test_id("row-status").all_inner_texts() == ["已拒签"]
    shot(page, "8-voided")


def test_batch_sign_without_a_tick_says_so(new_context: Any, shot: Any) -> None:
    w = _world()
    page = new_context("phone").new_page()
    login_by_sms(page, w["bob"].phone)
    page.goto("/envelopes/")
    page.get_by_test_id("list-row").first.wait_for()
    page.get_by_test_id("batch-sign").click()
    error = page.locator("[data-select-error]")
    error.wait_for(state="visible")
    assert "请先勾选" in error.inner_text()
    assert "/envelopes/" in page.url and "batch" not in page.url
