"""Steps shared by browser tests: log in through the UI with the code read from the outbox."""

from __future__ import annotations

import re
from typing import Any

CODE = re.compile(r"验证码为\s*(\d{6})|code is\s*(\d{6})|(?<!\d)(\d{6})(?!\d)")


def read_code_from_outbox(context: Any, phone: str, *, kind_text: str = "") -> str:
    """Open the development outbox page (DEBUG only) in a new tab and read the newest code."""
    page = context.new_page()
    try:
        page.goto(f"/dev/outbox/?recipient={phone}&refresh=0")
        rows = page.locator(".outbox-item")
        rows.first.wait_for()
        text = (
            rows.first.inner_text()
            if not kind_text
            else rows.filter(has_text=kind_text).first.inner_text()
        )
        match = CODE.search(text)
        assert match, f"no code in the outbox message: {text!r}"
        return next(group for group in match.groups() if group)
    finally:
        page.close()


def login_by_sms(page: Any, phone: str) -> None:
    """Log in on ``page`` with an SMS code (creates the account on first login)."""
    page.goto("/login/")
    page.get_by_label("手机号").fill(phone)
    page.get_by_role("button", name="获取验证码").click()
    page.locator(".send-result").filter(has_text="验证码已发送").wait_for()
    code = read_code_from_outbox(page.context, phone)
    page.get_by_label("验证码").fill(code)
    page.get_by_role("button", name="登录 / 注册").click()
    page.wait_for_url("**/me/")


def draw_strokes(page: Any, selector: str = "#signature-canvas") -> None:
    """Write a few mouse strokes (a rough 王 and a loop) on a drawing canvas."""
    box = page.locator(selector).bounding_box()
    assert box, "canvas not visible"
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    strokes = [
        [(0.2, 0.3), (0.45, 0.28), (0.6, 0.3)],
        [(0.22, 0.5), (0.4, 0.52), (0.58, 0.5)],
        [(0.18, 0.72), (0.4, 0.7), (0.62, 0.72)],
        [(0.4, 0.25), (0.41, 0.5), (0.4, 0.75)],
        [(0.7, 0.4), (0.78, 0.3), (0.86, 0.45), (0.78, 0.7), (0.7, 0.55), (0.9, 0.5)],
    ]
    for stroke in strokes:
        page.mouse.move(x0 + stroke[0][0] * w, y0 + stroke[0][1] * h)
        page.mouse.down()
        for fx, fy in stroke[1:]:
            page.mouse.move(x0 + fx * w, y0 + fy * h, steps=8)
        page.mouse.up()
