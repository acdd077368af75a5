"""What the signing page says and how it lays it out (issue 12, walkthrough defect 8), in
Chromium: the deadline in the desktop side panel never wraps inside the date or the time; a
personal signature is counted as 已签名 (not 已盖章) and the finish dialog, opened by 提交签署,
does not ask to click 提交签署 again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from qianshu.pki.actions import do_init_pki
from tests.browser.flows import login_by_sms
from tests.browser.test_envelope_sign_browser import _sent
from tests.support.personas import make_seal_org, make_signer, seal_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _pki() -> None:
    do_init_pki(name="测试平台")


# The top of every character of each whitespace-separated part of the element's text: a part
# wrapped inside itself has characters on two lines.
PART_LINES = """el => {
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  const chars = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.data.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      chars.push([node.data[i], Math.round(range.getBoundingClientRect().top)]);
    }
  }
  return chars;
}"""


def _parts(chars: list[list[Any]]) -> list[tuple[str, set[int]]]:
    parts: list[tuple[str, set[int]]] = []
    word, tops = "", set()
    for char, top in [*chars, [" ", 0]]:
        if char.isspace():
            if word:
                parts.append((word, tops))
            word, tops = "", set()
        else:
            word += char
            tops.add(top)
    return parts


@pytest.mark.parametrize("width", [1366, 1024])
def test_the_deadline_in_the_side_panel_stays_whole(
    new_context: Callable[[str], Any], shot: Any, width: int
) -> None:
    alice, bob = make_signer("alice"), make_signer("bob")
    deadline = timezone.now() + dt.timedelta(days=7)
    envelope = _sent(alice, [("sign", 1, bob)], pages=1, title="采购合同", deadline=deadline)
    page = new_context("desktop").new_page()
    page.set_viewport_size({"width": width, "height": 900})
    login_by_sms(page, bob.phone)
    page.goto(f"/envelopes/{envelope.uuid}/sign/")
    cell = page.get_by_test_id("sign-deadline")
    cell.wait_for()
    shot(page, "side-panel")
    local = timezone.localtime(deadline)
    parts = _parts(cell.evaluate(PART_LINES))
    assert [word for word, _ in parts] == [
        local.strftime("%Y-%m-%d"),
        local.strftime("%H:%M:%S"),
    ]
    for word, tops in parts:
        assert len(tops) == 1, f"{word} wraps over {len(tops)} lines"


def test_a_signature_is_counted_as_signed_and_the_dialog_does_not_repeat_submit(
    new_context: Callable[[str], Any], shot: Any
) -> None:
    alice, bob = make_signer("alice"), make_signer("bob")
    envelope = _sent(alice, [("sign", 1, bob)], pages=1, title="采购合同")
    page = new_context("desktop").new_page()
    login_by_sms(page, bob.phone)
    page.goto(f"/envelopes/{envelope.uuid}/sign/")
    page.get_by_test_id("sign-open").first.click()
    page.get_by_test_id("sign-stamp").click()  # 一键盖章
    page.get_by_test_id("sign-use-saved").click()  # 是: signature + date
    toast = page.locator("#sg-toast")
    toast.filter(has_text="已签名").wait_for()
    assert "已签名 1 处，请检查后点击“提交签署”。" in toast.inner_text()
    assert "盖章" not in toast.inner_text()
    page.get_by_test_id("sign-submit").click()
    finish = page.get_by_test_id("dialog-finish")
    finish.wait_for()
    shot(page, "finish")
    summary = page.locator("#sg-finish-summary").inner_text()
    assert summary == "已签名 1 处"
    assert "提交签署" not in finish.inner_text()


def test_a_seal_is_counted_as_sealed(new_context: Callable[[str], Any], shot: Any) -> None:
    alice, charlie = make_signer("alice"), make_signer("charlie")
    org = make_seal_org(charlie, "厦门某某供应链有限公司")
    envelope = _sent(alice, [("seal", 1, org)], pages=1, title="采购合同")
    assert seal_of(org) is not None
    page = new_context("desktop").new_page()
    login_by_sms(page, charlie.phone)
    page.goto(f"/envelopes/{envelope.uuid}/sign/")
    page.get_by_test_id("sign-open").first.click()
    page.get_by_test_id("sign-stamp").click()  # 一键盖章 (the only seal: no choice)
    page.locator("#sg-toast").filter(has_text="已盖章").wait_for()
    page.get_by_test_id("sign-submit").click()
    page.get_by_test_id("dialog-finish").wait_for()
    shot(page, "finish")
    assert page.locator("#sg-finish-summary").inner_text() == "已盖章 1 处"
