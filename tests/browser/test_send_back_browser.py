"""退回 in the browser at phone size (seed 002: 如果协议有异议，点击【退回】并理由).

charlie sends the contract back with a reason → alice sees it in 待他人签署 and on the detail
page, opens the editor (basics, field editor saved again through the page's script), resends →
bob's signature is kept → charlie signs → completed, and every document verifies valid."""

from __future__ import annotations

from typing import Any

import pytest

from qianshu.envelopes.models import Envelope, Recipient
from qianshu.pki.actions import do_init_pki
from tests.browser.flows import login_by_sms
from tests.browser.test_envelope_sign_browser import _sent, _valid, off_loop
from tests.envelopes.helpers import sign
from tests.support.personas import PIN, make_signer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _pki() -> None:
    do_init_pki(name="测试平台")


def _errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def _charlie_sends_back(page: Any, envelope: Envelope, shot: Any) -> None:
    page.goto(f"/envelopes/{envelope.uuid}/sign/")
    page.get_by_test_id("sign-open").first.click()
    page.get_by_test_id("sign-send-back").click()
    dialog = page.get_by_test_id("dialog-send-back")
    dialog.wait_for()
    assert "未修改的文件上已完成的签署仍然有效" in dialog.inner_text()
    dialog.get_by_test_id("send-back-submit").click()  # no reason: said so, nothing changes
    error = page.get_by_test_id("send-back-error")
    error.wait_for()
    assert "请填写退回原因" in error.inner_text()
    assert envelope.recipients.get(routing_order=2).status != Recipient.Status.RETURNED
    shot(page, "1-no-reason")
    page.get_by_test_id("send-back-reason").fill("第三条付款金额有误，请改为 12,000 元")
    shot(page, "1-send-back")
    page.get_by_test_id("send-back-submit").click()
    page.wait_for_url(f"**/envelopes/{envelope.uuid}/")
    page.get_by_text("已退回发起方修改").first.wait_for()
    note = page.get_by_test_id("returned-note")
    assert "第三条付款金额有误" in note.inner_text()
    assert page.get_by_test_id("edit-returned").count() == 0
    shot(page, "2-returned-signer")


def _alice_resends(page: Any, envelope: Envelope, shot: Any) -> None:
    page.goto("/envelopes/?tab=others")
    row = page.get_by_test_id("row-status").first
    row.wait_for()
    assert row.inner_text() == "已退回"
    shot(page, "3-list")
    page.goto(f"/envelopes/{envelope.uuid}/")
    assert "第三条付款金额有误" in page.get_by_test_id("returned-reason").inner_text()
    shot(page, "4-detail")
    page.get_by_test_id("edit-returned").click()
    page.get_by_test_id("compose-returned").wait_for()
    assert "第三条付款金额有误" in page.get_by_test_id("compose-returned").inner_text()
    shot(page, "5-edit")
    page.get_by_test_id("next-step").click()  # saves the basics and the recipient rows
    page.get_by_test_id("field-editor").wait_for()
    page.get_by_test_id("editor-save").click()  # every field saved again, unchanged
    page.get_by_text("已保存 4 个签署位置。").wait_for()
    page.get_by_test_id("editor-next").click()
    page.get_by_test_id("resend-plan").wait_for()
    assert page.get_by_test_id("resend-kept").count() == 1  # bob's signature stays
    assert page.get_by_test_id("resend-reset").count() == 0
    shot(page, "6-resend")
    page.get_by_test_id("send-submit").click()
    page.wait_for_url(f"**/envelopes/{envelope.uuid}/")
    page.get_by_text("已重新发起").first.wait_for()
    shot(page, "7-resent")


def _charlie_signs(page: Any, envelope: Envelope, shot: Any) -> None:
    page.goto(f"/envelopes/{envelope.uuid}/sign/")
    page.get_by_test_id("sign-open").first.click()
    page.get_by_test_id("sign-stamp").click()
    page.get_by_test_id("sign-use-saved").click()
    assert page.locator(".sg-field.is-mine.is-filled").count() == 2
    page.get_by_test_id("sign-submit").click()
    page.get_by_test_id("sign-finish").click()
    page.get_by_test_id("sign-pin").fill(PIN)
    shot(page, "8-sign-again")
    page.get_by_test_id("sign-confirm").click()
    page.wait_for_url("**/sign/done/")
    page.reload()
    title = page.get_by_test_id("sign-done-title")
    title.wait_for()
    assert "全部签署完成" in title.inner_text()
    shot(page, "9-done")


def test_send_back_edit_resend_and_complete(new_context: Any, shot: Any) -> None:
    alice, bob, charlie = make_signer("alice"), make_signer("bob"), make_signer("charlie")
    envelope = _sent(alice, [("sign", 1, bob), ("sign", 2, charlie)], pages=2, title="采购合同")
    off_loop(sign, envelope.recipients.get(routing_order=1), bob)
    document = envelope.documents.get()
    document.refresh_from_db()
    bob_signed = document.current_id

    charlie_page = new_context("phone").new_page()
    charlie_errors = _errors(charlie_page)
    login_by_sms(charlie_page, charlie.phone)
    _charlie_sends_back(charlie_page, envelope, shot)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.RETURNED

    alice_page = new_context("phone").new_page()
    alice_errors = _errors(alice_page)
    login_by_sms(alice_page, alice.phone)
    _alice_resends(alice_page, envelope, shot)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.IN_PROGRESS
    assert envelope.recipients.get(routing_order=1).status == Recipient.Status.DONE

    _charlie_signs(charlie_page, envelope, shot)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    _valid(envelope)
    document.refresh_from_db()
    revisions = list(document.revisions.values_list("blob_id", "action"))
    assert (bob_signed, "signed") in revisions  # the final file grew from bob's signed one
    assert [a for _b, a in revisions].count("prepared") == 1
    # The empty reason was answered with 400 (the form page with its message), nothing else.
    assert [e for e in charlie_errors if "status of 400" not in e] == []
    assert alice_errors == []
