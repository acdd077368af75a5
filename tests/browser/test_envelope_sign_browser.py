"""文件签署 in the browser, at phone (360 px) and desktop sizes: bob opens the signing page,
一键盖章 → 是 (his saved signature) or 重新采集 (drawn on the pad), 提交签署 → 结束盖章 → signing
PIN → the result page; the signed PDF verifies."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from django.db import connections

from qianshu.core.meta import TASK
from qianshu.envelopes import compose
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.models import Envelope, Field, Recipient
from qianshu.pki.actions import do_init_pki
from qianshu.pki.platform import load_platform
from qianshu.signing.verify import verify_pdf
from tests.browser.flows import draw_strokes, login_by_sms
from tests.envelopes.helpers import Builder
from tests.support.personas import PIN, make_seal_org, make_signer, seal_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _pki() -> None:
    do_init_pki(name="测试平台")


R = TypeVar("R")


def off_loop(fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """Run ``fn`` in another thread: Playwright's event loop runs in this one, and signing
    (pyHanko) calls asyncio.run()."""

    def run() -> R:
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def _send(initiator: Any, parties: list, **kwargs: Any) -> Envelope:
    envelope = Builder().draft(initiator, parties, **kwargs)
    compose_actions.do_send_envelope(envelope, actor=initiator, meta=TASK)
    envelope.refresh_from_db()
    return envelope


def _sent(initiator: Any, parties: list, **kwargs: Any) -> Envelope:
    return off_loop(_send, initiator, parties, **kwargs)


def _check_valid(envelope: Envelope) -> None:
    for document in envelope.documents.all():
        report = verify_pdf(document.current.read(), load_platform().trust())
        assert report.verdict == "valid", report.reason


def _valid(envelope: Envelope) -> None:
    off_loop(_check_valid, envelope)


def _open_viewer(page: Any, envelope: Envelope, shot: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"/envelopes/{envelope.uuid}/sign/")
    page.get_by_test_id("sign-documents").wait_for()
    assert page.get_by_text("签署文件列表").first.is_visible()
    assert page.get_by_test_id("sign-title").inner_text() == envelope.title
    shot(page, "1-list")
    assert errors == []
    page.get_by_test_id("sign-open").first.click()
    page.get_by_test_id("sign-stamp").wait_for()
    page.locator(".sg-page img").last.evaluate("img => img.scrollIntoView()")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.sg-page img')]"
        ".every(i => i.complete && i.naturalWidth)"
    )
    shot(page, "2-viewer")


def _submit_with_pin(page: Any, shot: Any) -> None:
    page.get_by_test_id("sign-submit").click()
    finish = page.get_by_test_id("dialog-finish")
    finish.wait_for()
    assert "提交的已经盖的章，提交后不可继续盖章" in finish.inner_text()
    shot(page, "5-finish")
    page.get_by_test_id("sign-continue").click()  # 继续盖章 closes the dialog
    assert finish.is_hidden()
    page.get_by_test_id("sign-submit").click()
    page.get_by_test_id("sign-finish").click()
    pin = page.get_by_test_id("sign-pin")
    pin.wait_for()
    assert pin.get_attribute("inputmode") == "numeric"
    # a wrong PIN first: the message, and the stamps stay
    pin.fill("000000")
    page.get_by_test_id("sign-confirm").click()
    error = page.get_by_test_id("sign-error")
    error.wait_for()
    assert "签署密码错误" in error.inner_text()
    shot(page, "6-wrong-pin")
    pin.fill(PIN)
    shot(page, "7-pin")
    page.get_by_test_id("sign-confirm").click()
    page.wait_for_url("**/sign/done/")


def test_one_click_signing_with_the_saved_signature(page: Any, shot: Any, size: str) -> None:
    alice, bob = make_signer("alice"), make_signer("bob")
    envelope = _sent(alice, [("sign", 1, bob)], pages=2, title="2022年度考核表")
    login_by_sms(page, bob.phone)
    _open_viewer(page, envelope, shot)

    fields = page.locator(".sg-field.is-mine")
    assert fields.count() == 2  # signature + date, highlighted
    page.get_by_test_id("sign-stamp").click()  # 一键盖章
    dialog = page.get_by_test_id("dialog-saved")
    dialog.wait_for()
    assert "是否使用已有的手写签名图片？" in dialog.inner_text()
    shot(page, "3-use-saved")
    page.get_by_test_id("sign-use-saved").click()  # 是
    page.locator(".sg-field.is-mine.is-filled img").first.wait_for()
    assert page.locator(".sg-field.is-mine.is-filled").count() == 2
    assert page.locator(".sg-date").inner_text().endswith("日")
    # a stamp can be taken back and stamped again
    page.locator(".sg-field.is-filled .sg-remove").first.click()
    assert page.locator(".sg-field.is-mine.is-filled").count() == 0  # the date goes with it
    page.get_by_test_id("sign-next").click()
    page.get_by_test_id("sign-stamp").click()
    page.get_by_test_id("sign-use-saved").click()
    assert page.locator(".sg-field.is-mine.is-filled").count() == 2
    page.locator(".sg-field.is-filled").first.scroll_into_view_if_needed()
    shot(page, "4-stamped")

    _submit_with_pin(page, shot)
    page.get_by_test_id("sign-done").wait_for()
    envelope.refresh_from_db()
    recipient = envelope.recipients.get()
    assert recipient.status == Recipient.Status.DONE
    # the last party: completion runs at once here (immediate tasks), downloads are offered
    page.reload()
    page.get_by_test_id("sign-done-title").wait_for()
    assert "全部签署完成" in page.get_by_test_id("sign-done-title").inner_text()
    shot(page, "8-done")
    _valid(envelope)


def test_redraw_a_signature_on_the_pad_for_this_signing(page: Any, shot: Any, size: str) -> None:
    alice, bob = make_signer("alice"), make_signer("bob")
    envelope = _sent(alice, [("sign", 1, bob), ("sign", 2, alice)], pages=1, title="采购合同")
    login_by_sms(page, bob.phone)
    _open_viewer(page, envelope, shot)

    page.get_by_test_id("sign-stamp").click()
    page.get_by_test_id("sign-redraw").click()  # 重新采集
    pad = page.get_by_test_id("dialog-pad")
    pad.wait_for()
    assert "请使用正楷书写" in pad.inner_text()
    draw_strokes(page)
    shot(page, "3-pad")
    page.get_by_test_id("signature-save").click()  # 使用签名
    filled = page.locator(".sg-field.sg-kind-signature.is-filled img")
    filled.wait_for()
    assert filled.get_attribute("src").startswith("data:image/png;base64,")
    filled.scroll_into_view_if_needed()
    shot(page, "4-stamped")
    saved_before = bob.signatures.count()

    _submit_with_pin(page, shot)
    title = page.get_by_test_id("sign-done-title")
    title.wait_for()
    assert "已签署，等待下一位签署方" in title.inner_text()
    shot(page, "8-done")
    assert bob.signatures.count() == saved_before  # used this time only
    _valid(envelope)


def _seal_envelope(initiator: Any, org: Any, phone: str) -> Envelope:
    from qianshu.signing.samples import make_test_pdf

    envelope = compose_actions.do_create_draft(title="采购合同", actor=initiator, meta=TASK)
    compose_actions.do_add_document(
        envelope, make_test_pdf(pages=3), "合同.pdf", actor=initiator, meta=TASK
    )
    compose_actions.do_set_recipients(
        envelope,
        [
            compose.RecipientInput(
                role="seal", routing_order=1, name=org.name, phone=phone, org_uuid=str(org.uuid)
            )
        ],
        actor=initiator,
    )
    compose_actions.do_send_envelope(envelope, actor=initiator, meta=TASK)
    envelope.refresh_from_db()
    return envelope


def test_seal_placed_by_dragging_with_a_cross_page_seal(new_context: Any, shot: Any) -> None:
    alice, bob, charlie = make_signer("alice"), make_signer("bob"), make_signer("charlie")
    org = make_seal_org(charlie, "厦门某某供应链有限公司", keeper=bob)
    envelope = off_loop(_seal_envelope, alice, org, bob.phone)
    page = new_context("desktop").new_page()
    login_by_sms(page, bob.phone)
    _open_viewer(page, envelope, shot)

    # 指定位置签署 → the seal, dragged down and to the left on the page in view
    page.get_by_test_id("sign-stamp").click()
    page.get_by_test_id("dialog-seal").wait_for()
    shot(page, "3-choose-seal")
    page.get_by_test_id("sign-use-seal").click()
    stamp = page.get_by_test_id("sign-stamp-placed")
    stamp.wait_for()
    box = stamp.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - 80, cy + 60, steps=8)
    page.mouse.up()
    moved = stamp.bounding_box()
    assert moved["x"] < box["x"] - 60 and moved["y"] > box["y"] + 40

    # and a 骑缝章 over all three pages
    page.get_by_test_id("sign-stamp").click()
    page.locator("input[name=sg-seal-mode][value=cross_page_seal]").check()
    page.get_by_test_id("sign-use-seal").click()
    assert page.get_by_test_id("sign-stamp-placed").count() == 1 + 3
    shot(page, "4-placed")

    _submit_with_pin(page, shot)
    page.get_by_test_id("sign-done").wait_for()
    shot(page, "8-done")
    recipient = envelope.recipients.get()
    assert recipient.status == Recipient.Status.DONE and recipient.seal == seal_of(org)
    kinds = sorted(Field.objects.filter(recipient=recipient).values_list("kind", flat=True))
    assert kinds == ["cross_page_seal", "seal"]
    _valid(envelope)
