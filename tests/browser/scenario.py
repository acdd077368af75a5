"""Steps of the end-to-end scenarios in the browser (seed 001 采购合同, seed 000 考核一张表).

* the world, written to the database: verified people with a signing PIN and a saved signature
  (:func:`person`), verified organisations with seals granted to their keepers
  (:func:`organisation`), and the one-page evaluation form (:func:`make_evaluation_form`);
* 发起签署 through the UI: :func:`act_for` (the top bar's 切换身份), :func:`fill_recipients`
  (organisations chosen in the search, :func:`choose_org`), :func:`place_field` (drag from the
  palette with the mouse, tap-then-tap with a finger), :func:`save_fields`, :func:`send`;
* a party's turn: :func:`login_from_sms_link` (the link in the outbox → SMS-code login with the
  phone filled in → the signing page), :func:`open_document`, :func:`stamp` (一键盖章 with the
  saved signature, a signature drawn on the pad, or a chosen seal), :func:`submit_with_pin`
  (提交签署 → 结束盖章 → 签署密码 → the result page);
* the result: :func:`download` (a Playwright download) and :func:`check_final_pdf` (our verifier,
  pyHanko's long-term validation and poppler's pdfsig, all with the platform root only).

Signing and verifying call ``asyncio.run()`` (pyHanko), which cannot run in this thread while
Playwright's event loop does: :func:`off_loop` runs them in a worker thread.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import re
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pikepdf
from django.db import connection, connections
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESStatus
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from qianshu.accounts.models import User
from qianshu.envelopes.models import Envelope, Field
from qianshu.envelopes.views.documents import _RENDER_LOCK, WIDTHS, page_image
from qianshu.orgs.models import Membership, Organization, Seal
from qianshu.pki.platform import load_platform
from qianshu.signing import pki, samples
from qianshu.signing.pages import render_page
from qianshu.signing.verify import VerificationReport, verify_pdf
from tests.browser.flows import read_code_from_outbox
from tests.support import pdfsig
from tests.support.personas import PIN, grant_seal, make_signer, make_verified_org
from tests.support.seals import make_seal

R = TypeVar("R")
LINK = re.compile(r"https?://\S+?/s/[\w:.\-]+/")
GOOD_LEVELS = {"none", "form_filling", "lta_updates"}


class Shots:
    """Numbered screenshots of a scenario: ``<test>-01-<name>.png``, ``<test>-02-…`` in the
    order they were taken. Full pages are taken from the top (sticky bars then sit where they
    belong); ``screen=True`` keeps only what is on the screen (a viewer, an editor). One image
    pixel per CSS pixel: the phone's double density made every shot four times the work."""

    def __init__(self, folder: Path, test: str) -> None:
        self.folder = folder
        self.test = test.replace("[", "-").replace("]", "")
        self.count = 0
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Any, name: str, *, screen: bool = False) -> Path:
        self.count += 1
        path = self.folder / f"{self.test}-{self.count:02d}-{name}.png"
        if screen:
            page.screenshot(path=str(path), scale="css")
            return path
        scrolled = page.evaluate("window.scrollY")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(path), full_page=True, scale="css")
        page.evaluate("y => window.scrollTo(0, y)", scrolled)
        return path

    def pdf_page(self, data: bytes, page: int, name: str) -> Path:
        """Keep a rendering of one page of a PDF (e.g. the signed file) with the screenshots."""
        self.count += 1
        path = self.folder / f"{self.test}-{self.count:02d}-{name}.png"
        with _RENDER_LOCK:  # PDFium is not thread-safe; the live server renders page images
            path.write_bytes(render_page(data, page, width_px=1200, fmt="png"))
        return path


def off_loop(fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """Run ``fn`` in another thread (Playwright's event loop runs in this one)."""

    def run() -> R:
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


# --- the world ---------------------------------------------------------------------------------


def person(name: str, phone: str, *, password: str = "") -> User:
    """A verified person called ``name`` with the signing PIN ``PIN`` and a saved signature."""
    user = make_signer(name, phone, real_name=name)
    if password:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def organisation(
    admin: User,
    name: str,
    *,
    seals: Sequence[tuple[str, User]],
    members: Sequence[User] = (),
    kind: str = Organization.Kind.ENTERPRISE,
) -> Organization:
    """A verified organisation of ``admin``; each ``(seal kind, keeper)`` is an active seal with
    a current grant to the keeper (a 用印人 member unless they are the admin)."""
    org = make_verified_org(admin, name=name, kind=kind, legal_rep_name=admin.display_name)
    for user in members:
        Membership.objects.get_or_create(org=org, user=user)
    for seal_kind, keeper in seals:
        if keeper != admin:
            Membership.objects.get_or_create(
                org=org, user=keeper, defaults={"role": Membership.Role.SEAL_KEEPER}
            )
        grant_seal(make_seal(org, admin, kind=seal_kind), keeper, admin)
    return org


def seal_named(org: Organization, kind: str) -> Seal:
    return Seal.objects.get(org=org, kind=kind)


# --- the evaluation form (考核一张表) ------------------------------------------------------------

A4_W, A4_H = samples.A4_PORTRAIT
_LEFT, _RIGHT, _TOP = 50.0, 545.0, 750.0
# Table rows from the top: (label lines, height in points).
_ROWS = {
    "name": 26.0,
    "number": 26.0,
    "post": 26.0,
    "targets": 140.0,
    "promise": 120.0,
    "advice": 130.0,
    "result": 130.0,
}


def _row_tops() -> dict[str, float]:
    tops, y = {}, _TOP
    for key, height in _ROWS.items():
        tops[key] = y
        y -= height
    return tops


ROW_TOP = _row_tops()
ROW_BOTTOM = {key: ROW_TOP[key] - _ROWS[key] for key in _ROWS}


def at(x: float, y: float) -> tuple[float, float]:
    """PDF points (origin bottom-left) → fractions of the page (origin top-left)."""
    return x / A4_W, (A4_H - y) / A4_H


#: Where the fields of the evaluation form go (centres, fractions of the page).
FORM_SPOTS = {
    "employee_text": at(330, ROW_TOP["promise"] - 48),
    "employee_signature": at(270, ROW_BOTTOM["promise"] + 30),
    "employee_date": at(470, ROW_BOTTOM["promise"] + 18),
    "head_signature": at(250, ROW_BOTTOM["advice"] + 28),
    "department_seal": at(440, ROW_BOTTOM["advice"] + 63),
    "hr_seal": at(440, ROW_BOTTOM["result"] + 63),
}


def make_evaluation_form(
    name: str, department: str, year: int = 2022, *, number: str = "2015031"
) -> bytes:
    """A one-page A4 2020~2022年聘期考核暨2022年度考核表 of ``name`` (seed 000), with real text:
    the staff data, 年度目标任务, and the three boxes to sign and seal at the bottom. Empty
    ``name``, ``department`` and ``number`` leave their cells blank (a template's form)."""
    title = f"2020~{year}年聘期考核暨{year}年度考核表"
    cells = [
        ["姓名", name, "性别", "男", "出生年月", "1985-06", "政治面貌", "中共党员"],
        ["职工号", number, "最后学历", "硕士研究生", "最后学位", "硕士", "职称名称", "讲师"],
    ]
    post = ["现任职务", f"{department}教师", "任职起止时间", f"2019-09 至 {year}-12"]
    targets = [
        "1. 完成本科课程教学 320 学时，指导学生创新创业项目 3 项；",
        "2. 主持校级教学改革项目 1 项，发表教学研究论文 1 篇；",
        "3. 参与学院创业孵化基地建设与学生实践活动组织。",
    ]
    promise = "本人承诺所填写的内容真实有效。"
    grades = [f"{year}年度考核等次：", f"2020~{year}年聘期考核等次："]
    labels = {
        "targets": ["年度目标", "任务"],
        "promise": ["被考核人", "承诺及意见"],
        "advice": ["建议等次"],
        "result": ["考核结果"],
    }
    strings = [
        title,
        f"单位名称：{department}",
        f"考核年度：{year}年度",
        *itertools.chain(*cells),
        *post,
        *targets,
        promise,
        *grades,
        *itertools.chain(*labels.values()),
        "被考核人签名：",
        "负责人签名：",
        "单位（盖章）",
        "（盖章）",
        "年    月    日",
        "人事处制",
    ]
    font = samples._subset_cjk_font("".join(sorted(set("".join(strings)))))
    ops: list[bytes] = []

    def text(x: float, y: float, value: str, size: float = 10.0) -> None:
        ops.append(b"BT /F2 %.2f Tf %.2f %.2f Td %s Tj ET" % (size, x, y, font.encode(value)))

    def line(x1: float, y1: float, x2: float, y2: float) -> None:
        ops.append(b"%.2f %.2f m %.2f %.2f l S" % (x1, y1, x2, y2))

    text((A4_W - font.width(title, 16)) / 2, 790, title, 16)
    text(_LEFT, 760, f"单位名称：{department}")
    text(400, 760, f"考核年度：{year}年度")
    ops.append(b"q 0.8 w 0.15 G")
    width = (_RIGHT - _LEFT) / 8
    line(_LEFT, _TOP, _RIGHT, _TOP)
    for key in _ROWS:
        line(_LEFT, ROW_BOTTOM[key], _RIGHT, ROW_BOTTOM[key])
    line(_LEFT, _TOP, _LEFT, ROW_BOTTOM["result"])
    line(_RIGHT, _TOP, _RIGHT, ROW_BOTTOM["result"])
    for row, key in enumerate(("name", "number")):
        for column in range(1, 8):
            x = _LEFT + column * width
            line(x, ROW_TOP[key], x, ROW_BOTTOM[key])
        for column, value in enumerate(cells[row]):
            text(_LEFT + column * width + 5, ROW_BOTTOM[key] + 9, value, 9)
    for column in (1, 4, 5):
        x = _LEFT + column * width
        line(x, ROW_TOP["post"], x, ROW_BOTTOM["post"])
    for column, value in zip((0, 1, 4, 5), post, strict=True):
        text(_LEFT + column * width + 5, ROW_BOTTOM["post"] + 9, value, 9)
    x = _LEFT + width
    line(x, ROW_TOP["targets"], x, ROW_BOTTOM["result"])
    for key, lines in labels.items():
        middle = (ROW_TOP[key] + ROW_BOTTOM[key]) / 2
        for i, value in enumerate(lines):
            text(_LEFT + 5, middle + 6 - i * 14, value, 9)
    ops.append(b"Q")
    for i, value in enumerate(targets):
        text(x + 10, ROW_TOP["targets"] - 24 - i * 20, value)
    text(x + 10, ROW_TOP["promise"] - 22, promise)
    text(x + 10, ROW_BOTTOM["promise"] + 26, "被考核人签名：")
    for key in ("advice", "result"):
        for i, value in enumerate(grades):
            text(x + 10, ROW_TOP[key] - 22 - i * 20, value)
        text(430, ROW_BOTTOM[key] + 12, "年    月    日")
    text(x + 10, ROW_BOTTOM["advice"] + 24, "负责人签名：")
    text(380, ROW_BOTTOM["advice"] + 40, "单位（盖章）")
    text(400, ROW_BOTTOM["result"] + 40, "（盖章）")
    text(_LEFT, ROW_BOTTOM["result"] - 20, "人事处制", 8)

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(A4_W, A4_H))
    page = pdf.pages[0]
    page.obj.Resources = pikepdf.Dictionary(
        Font=pikepdf.Dictionary(F2=samples._embed_cjk_font(pdf, font))
    )
    page.obj.Contents = pdf.make_stream(b"\n".join(ops))
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True, compress_streams=True)
    return out.getvalue()


# --- page images --------------------------------------------------------------------------------


def warm_page_images(envelope: Envelope, widths: Sequence[int] = WIDTHS) -> None:
    """Render the current revision's page images up front, on SQLite only: the pages load them
    in parallel, and the in-memory test database (shared cache) refuses concurrent writers
    instead of waiting. PostgreSQL runs render them on request, in parallel."""
    if connection.vendor != "sqlite":
        return
    for document in envelope.documents.select_related("current"):
        for page in range(document.page_count):
            for width in widths:
                page_image(document.current_id, document.current.read, page, width)


# --- pointer ------------------------------------------------------------------------------------


class Pointer:
    """Taps and drags with the mouse, or with one finger (CDP touch events) on a phone."""

    def __init__(self, page: Any, touch: bool) -> None:
        self.page = page
        self.touch = touch
        self.cdp = page.context.new_cdp_session(page) if touch else None

    def _touch(self, kind: str, x: float, y: float) -> None:
        points = [] if kind == "touchEnd" else [{"x": x, "y": y}]
        self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})  # type: ignore[union-attr]

    def stroke(self, points: Sequence[tuple[float, float]], steps: int = 8) -> None:
        (x0, y0), rest = points[0], points[1:]
        if self.touch:
            self._touch("touchStart", x0, y0)
            x, y = x0, y0
            for x1, y1 in rest:
                for i in range(1, steps + 1):
                    self._touch("touchMove", x + (x1 - x) * i / steps, y + (y1 - y) * i / steps)
                x, y = x1, y1
            self._touch("touchEnd", x, y)
        else:
            self.page.mouse.move(x0, y0)
            self.page.mouse.down()
            for x1, y1 in rest:
                self.page.mouse.move(x1, y1, steps=steps)
            self.page.mouse.up()

    def tap(self, x: float, y: float) -> None:
        if self.touch:
            self.page.touchscreen.tap(x, y)
        else:
            self.page.mouse.click(x, y)

    def press(self, locator: Any) -> None:
        """A button: tapped with a finger on the phone, clicked on the desktop."""
        if self.touch:
            locator.tap()
        else:
            locator.click()


def centre(box: dict[str, float]) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def point_on(page: Any, element: Any, fx: float, fy: float) -> tuple[float, float]:
    """Scroll the point at fractions (fx, fy) of ``element`` to the middle of the screen and
    return it in viewport coordinates."""
    box = element.bounding_box()
    y = box["y"] + box["height"] * fy
    page.evaluate("dy => window.scrollBy(0, dy)", y - page.viewport_size["height"] * 0.55)
    box = element.bounding_box()
    return box["x"] + box["width"] * fx, box["y"] + box["height"] * fy


def draw_name(pointer: Pointer, selector: str = "#signature-canvas") -> None:
    """Write a few strokes (a rough 何 and a loop) on the signature pad, by mouse or finger."""
    box = pointer.page.locator(selector).bounding_box()
    assert box, "the signature pad is not visible"
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    strokes = [
        [(0.16, 0.25), (0.1, 0.5)],
        [(0.13, 0.4), (0.13, 0.8)],
        [(0.22, 0.3), (0.42, 0.3)],
        [(0.36, 0.3), (0.36, 0.78), (0.32, 0.74)],
        [(0.24, 0.45), (0.3, 0.45), (0.3, 0.6), (0.24, 0.6), (0.24, 0.45)],
        [(0.55, 0.4), (0.63, 0.28), (0.72, 0.45), (0.63, 0.72), (0.55, 0.55), (0.82, 0.5)],
    ]
    for stroke in strokes:
        pointer.stroke([(x0 + fx * w, y0 + fy * h) for fx, fy in stroke])


# --- logging in -----------------------------------------------------------------------------------


def read_link_from_outbox(context: Any, phone: str) -> str:
    """The newest signing link sent to ``phone``, as a person reads it on the outbox page."""
    page = context.new_page()
    try:
        page.goto(f"/dev/outbox/?recipient={phone}&refresh=0")
        item = page.locator(".outbox-item").filter(has_text="envelope_sign_request").first
        item.wait_for()
        text = item.inner_text()
    finally:
        page.close()
    match = LINK.search(text)
    assert match, f"no link in the SMS: {text!r}"
    return match.group(0)


def login_from_sms_link(page: Any, phone: str, shot: Shots, name: str) -> str:
    """Open the SMS link, log in with the code (the phone shown masked, never in the URL),
    land on the signing page."""
    link = read_link_from_outbox(page.context, phone)
    page.goto(link)
    page.wait_for_url("**/login/?*")
    assert phone not in page.url, "the link never puts the number into the URL"
    shown = page.get_by_test_id("login-hinted-phone").inner_text()
    assert f"{phone[:3]}****{phone[-4:]}" in shown and phone not in shown
    page.get_by_role("button", name="获取验证码").click()
    page.locator(".send-result").filter(has_text="验证码已发送").wait_for()
    shot(page, f"{name}-login")
    code = read_code_from_outbox(page.context, phone, kind_text="login_code")
    page.get_by_label("验证码").fill(code)
    page.get_by_role("button", name="登录 / 注册").click()
    page.wait_for_url("**/envelopes/*/sign/")
    return link


def login_with_password(page: Any, phone: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_role("link", name="密码登录").click()
    page.get_by_label("手机号").fill(phone)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_url("**/me/")


def go_to_list(page: Any, touch: bool) -> None:
    """文件管理 (desktop top bar) or 任务 (the phone's bottom bar) → 待我签署."""
    if touch:
        page.locator(".tabbar").get_by_role("link", name="任务").tap()
    else:
        page.locator(".topnav").get_by_role("link", name="文件管理").click()
    page.get_by_test_id("envelope-lists").wait_for()
    assert page.get_by_test_id("tab-todo").get_attribute("aria-current") == "page"


def act_for(page: Any, org: Organization) -> None:
    """切换身份 in the top bar: act for ``org``."""
    page.get_by_test_id("context-current").click()
    page.locator(f'[data-testid="context-option"][data-org="{org.uuid}"]').click()
    page.locator(".msg-success").filter(has_text="已切换到").wait_for()
    assert org.name in page.get_by_test_id("context-current").inner_text()


# --- 发起签署 -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One 签署方 row of step 1."""

    role: str  # "sign" (个人签署) or "seal" (企业盖章)
    name: str  # the person's real name, or the organisation's name
    phone: str  # the person's phone, or the contact's
    contact: str = ""
    seal_kind: str = ""  # 指定印章类型 (a Seal.Kind value), "" for 不限


def upload(page: Any, pdf: Path, title: str | None = None) -> None:
    """发起签署 with one file (it uploads as soon as it is chosen; the task name follows the
    file's name unless ``title`` is given)."""
    page.goto("/envelopes/new/")
    page.get_by_test_id("compose-form").wait_for()
    page.get_by_test_id("file-input").set_input_files(str(pdf))
    page.get_by_test_id("document-item").wait_for()
    if title is None:
        assert page.locator("#id_title").input_value() == pdf.stem
    else:
        page.locator("#id_title").fill(title)


def fill_recipients(page: Any, rows: Sequence[Row]) -> None:
    """The rows in routing order 1, 2, 3 …: the first exists, the others are added."""
    for index, row in enumerate(rows):
        if index:
            page.get_by_test_id("add-seal" if row.role == "seal" else "add-sign").click()
        item = page.get_by_test_id("recipient-row").nth(index)
        item.locator(f"input[type=radio][value={row.role}]").check()
        assert item.locator("input[name$='-routing_order']").input_value() == str(index + 1)
        if row.role == "seal":
            choose_org(item, row.name)
            item.locator("input[name$='-contact_name']").fill(row.contact)
            if row.seal_kind:
                item.locator("select[name$='-required_seal_kind']").select_option(row.seal_kind)
        else:
            item.locator("input[name$='-name']").fill(row.name)
        item.locator("input[name$='-phone']").fill(row.phone)
    assert page.get_by_test_id("recipient-row").count() == len(rows)


def choose_org(row: Any, name: str, code: str = "") -> None:
    """企业盖章: search the verified organisations by ``name`` and choose the one called that
    (with credit code ``code`` when several share the name); the row then shows it as chosen,
    its name and credit code read-only."""
    row.get_by_test_id("org-query").fill(name)
    results = row.get_by_test_id("org-result")
    results.first.wait_for()
    wanted = results.filter(has_text=code) if code else results.filter(has_text=name)
    wanted.first.click()
    chosen = row.get_by_test_id("org-chosen")
    chosen.wait_for()
    assert name in chosen.inner_text()
    assert row.locator("input[name$='-org']").input_value()
    assert row.locator("input[name$='-name']").input_value() == name
    assert row.locator("input[name$='-name']").get_attribute("readonly") is not None


def open_editor(page: Any, envelope: Envelope) -> None:
    warm_page_images(envelope, widths=(400, 800, 1600))
    page.get_by_test_id("next-step").click()
    page.get_by_test_id("field-editor").wait_for()
    page.locator(".ed-page img").last.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.ed-page img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    page.evaluate("window.scrollTo(0, 0)")


def place_field(
    page: Any,
    pointer: Pointer,
    recipient: int,
    kind: str,
    page_index: int,
    spot: tuple[float, float],
) -> None:
    """Choose the ``recipient``-th party, put a ``kind`` field on page ``page_index`` centred at
    ``spot`` (fractions of the page): dragged from the palette with the mouse, or tapped on the
    palette and then on the page with a finger. A 骑缝章 is placed with a tap on either."""
    page.get_by_test_id("editor-recipient").nth(recipient).click()
    item = page.locator(f"[data-items-for]:not([hidden]) [data-testid=palette-{kind}]")
    before = page.locator(f".ed-field.ed-f-{kind}").count()
    target = point_on(page, page.get_by_test_id("editor-page").nth(page_index), *spot)
    if pointer.touch or kind == "cross_page_seal":
        pointer.press(item)
        page.locator("[data-place-hint]").wait_for()
        target = point_on(page, page.get_by_test_id("editor-page").nth(page_index), *spot)
        pointer.tap(*target)
    else:
        pointer.stroke([centre(item.bounding_box()), target], steps=12)
    page.wait_for_function(
        f"n => document.querySelectorAll('.ed-field.ed-f-{kind}').length > n", arg=before
    )
    page.get_by_test_id("inspector").wait_for()


def label_text_field(page: Any, label: str) -> None:
    """提示文字 of the selected 文本 field."""
    box = page.locator("[data-insp-label]")
    if not box.is_visible():
        page.get_by_test_id("inspector-more").click()
    box.fill(label)
    box.press("Tab")


def save_fields(page: Any, count: int) -> None:
    page.get_by_test_id("editor-save").click()
    page.get_by_text(f"已保存 {count} 个签署位置。").wait_for()


def send(page: Any, envelope: Envelope, recipients: int, shot: Shots, name: str) -> None:
    """下一步 → 确认发起 → 发起签署 → 签署详情."""
    page.get_by_test_id("editor-next").click()
    page.get_by_test_id("send-form").wait_for()
    assert page.get_by_test_id("summary-recipient").count() == recipients
    assert not page.get_by_test_id("send-problems").count()
    shot(page, name)
    page.get_by_test_id("send-submit").click()
    page.wait_for_url(f"**/envelopes/{envelope.uuid}/")
    page.get_by_text("已发起，已通知第一位签署方。").wait_for()


def spot_rect(
    spot: tuple[float, float], size: tuple[float, float]
) -> tuple[float, float, float, float]:
    """A ``size`` (points) rectangle (x1, y1, x2, y2) centred at ``spot`` (fractions of an A4
    page)."""
    x, y = spot[0] * A4_W, A4_H - spot[1] * A4_H
    return (x - size[0] / 2, y - size[1] / 2, x + size[0] / 2, y + size[1] / 2)


def assert_field_at(field: Field, spot: tuple[float, float], tolerance: float = 8.0) -> None:
    """The field's centre is where it was dropped (PDF points, origin bottom-left)."""
    box = field.document.page_boxes[field.page]
    width, height = box[2] - box[0], box[3] - box[1]
    x = box[0] + spot[0] * width
    y = box[3] - spot[1] * height
    assert abs((field.x1 + field.x2) / 2 - x) < tolerance, (field, x)
    assert abs((field.y1 + field.y2) / 2 - y) < tolerance, (field, y)


# --- a party's turn -------------------------------------------------------------------------------


def open_document(page: Any, pointer: Pointer, envelope: Envelope, shot: Shots, name: str) -> None:
    """签署文件列表 → 签署 (or 盖章) → the document viewer with every page loaded."""
    page.get_by_test_id("sign-documents").wait_for()
    assert page.get_by_test_id("sign-title").inner_text() == envelope.title
    shot(page, f"{name}-list")
    pointer.press(page.get_by_test_id("sign-open").first)
    page.get_by_test_id("sign-stamp").wait_for()
    page.locator(".sg-page img").last.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.sg-page img')]"
        ".every(i => i.complete && i.naturalWidth)"
    )
    shot(page, f"{name}-viewer", screen=True)


def stamp(
    page: Any,
    pointer: Pointer,
    *,
    saved: bool = False,
    draw: bool = False,
    seal: Seal | None = None,
    shot: Shots | None = None,
    name: str = "",
) -> None:
    """一键盖章: 是 (the saved signature), 重新采集 (draw on the pad), or the seal (chosen in the
    dialog when the keeper holds more than one that fits). ``shot`` keeps the dialogs."""
    keep = (lambda step: shot(page, f"{name}-{step}", screen=True)) if shot else (lambda step: None)
    pointer.press(page.get_by_test_id("sign-stamp"))
    if saved or draw:
        dialog = page.get_by_test_id("dialog-saved")
        dialog.wait_for()
        assert "是否使用已有的手写签名图片？" in dialog.inner_text()
        keep("use-saved")
        if saved:
            pointer.press(page.get_by_test_id("sign-use-saved"))
        else:
            pointer.press(page.get_by_test_id("sign-redraw"))
            pad = page.get_by_test_id("dialog-pad")
            pad.wait_for()
            assert "请使用正楷书写" in pad.inner_text()
            page.wait_for_function(
                "() => document.querySelector('#signature-canvas').getBoundingClientRect().width"
                " > 200"
            )
            draw_name(pointer)
            save = page.get_by_test_id("signature-save")
            page.wait_for_function("() => !document.querySelector('#signature-save').disabled")
            keep("pad")
            pointer.press(save)
            pad.wait_for(state="hidden")
    elif seal is not None:
        dialog = page.get_by_test_id("dialog-seal")
        if page.locator("input[name=sg-seal][type=radio]").count():
            dialog.wait_for()
            choice = page.locator(f"input[name=sg-seal][value='{seal.uuid}']")
            choice.check()
            keep("choose-seal")
            pointer.press(page.get_by_test_id("sign-use-seal"))
    page.locator(".sg-field.is-mine.is-filled").first.wait_for()


def fill_text(page: Any, value: str) -> None:
    box = page.locator(".sg-field.sg-kind-text input")
    box.wait_for()
    box.fill(value)


def all_mine_filled(page: Any) -> int:
    """Every part of the party's own fields is filled; the number of parts."""
    assert page.locator(".sg-field.is-mine:not(.is-filled)").count() == 0
    return page.locator(".sg-field.is-mine.is-filled").count()


def submit_with_pin(page: Any, pointer: Pointer, shot: Shots, name: str) -> None:
    """提交签署 → 结束盖章 → 签署密码 → 确认签署 → the result page."""
    pointer.press(page.get_by_test_id("sign-submit"))
    finish = page.get_by_test_id("dialog-finish")
    finish.wait_for()
    assert "提交的已经盖的章，提交后不可继续盖章" in finish.inner_text()
    shot(page, f"{name}-finish", screen=True)
    pointer.press(page.get_by_test_id("sign-finish"))
    pin = page.get_by_test_id("sign-pin")
    pin.wait_for()
    pin.fill(PIN)
    shot(page, f"{name}-pin", screen=True)
    pointer.press(page.get_by_test_id("sign-confirm"))
    page.wait_for_url("**/sign/done/")
    page.get_by_test_id("sign-done-title").wait_for()


# --- the result -----------------------------------------------------------------------------------


def wait_for_status(page: Any, url: str, label: str, attempts: int = 20) -> None:
    """The envelope page shows ``label`` (completion runs right after the last signature; on a
    slow machine it may take a moment: reload until it shows, bounded)."""
    for _ in range(attempts):
        page.goto(url)
        if page.get_by_test_id("envelope-status").inner_text() == label:
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"the envelope is not {label}")


def download(page: Any, test_id: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.get_by_test_id(test_id).click()
    done = info.value
    path = done.path()
    assert path, done.failure()
    return done.suggested_filename, Path(path).read_bytes()


def pdf_text(
    data: bytes, tmp_path: Path, box: tuple[float, float, float, float] | None = None
) -> str:
    """pdftotext of ``data`` (layout kept); with ``box`` (PDF points x1, y1, x2, y2 on the
    first page, origin bottom-left) only the text inside it."""
    path = tmp_path / "text.pdf"
    path.write_bytes(data)
    crop: list[str] = []
    if box is not None:
        height = float(PdfFileReader(io.BytesIO(data)).root["/Pages"]["/Kids"][0]["/MediaBox"][3])
        x1, y1, x2, y2 = box
        crop = ["-f", "1", "-l", "1", "-r", "72", "-x", f"{x1:.0f}", "-y", f"{height - y2:.0f}"]
        crop += ["-W", f"{x2 - x1:.0f}", "-H", f"{y2 - y1:.0f}"]
    return subprocess.run(
        ["pdftotext", "-layout", *crop, str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _lta_spec() -> PdfSignatureValidationSpec:
    return PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(trust_roots=load_platform().trust().roots),
                revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )


def _verify(data: bytes, lta: bool) -> tuple[VerificationReport, list[str]]:
    report = verify_pdf(data, load_platform().trust())
    failures = []
    if lta:
        reader = PdfFileReader(io.BytesIO(data), strict=True)
        spec = _lta_spec()
        for sig in reader.embedded_signatures:
            if sig.sig_object_type == "/DocTimeStamp":
                continue
            result = asyncio.run(ades_lta_validation(sig, spec))
            if result.ades_subindic.status != AdESStatus.PASSED:
                failures.append(f"{sig.field_name}: {result.ades_subindic}")
    return report, failures


def check_final_pdf(
    data: bytes, tmp_path: Path, *, lta_validation: bool = True
) -> VerificationReport:
    """The downloaded file is valid, trusted and B-LTA for our verifier, passes pyHanko's
    ETSI long-term validation with only what is embedded, and pdfsig trusts every signature
    with the platform root in a fresh NSS database."""
    report, failures = off_loop(_verify, data, lta_validation)
    assert report.verdict == "valid", report.reason
    assert report.document_timestamped
    assert report.signatures[-1].kind == "document_timestamp", "the last one is the archive stamp"
    for sig in report.signatures:
        assert sig.intact and sig.valid and sig.trusted, sig
        assert sig.modification_level in GOOD_LEVELS, sig
        if sig.kind != "document_timestamp":
            assert sig.pades_level == "B-LTA", sig
            assert sig.ltv and sig.revocation == "good", sig
    assert not failures, failures
    folder = tmp_path / f"pdfsig-{len(list(tmp_path.glob('pdfsig-*')))}"
    folder.mkdir()
    pdf = folder / "signed.pdf"
    pdf.write_bytes(data)
    root = pki.certificate_pem(load_platform().pki.root.certificate)
    result = pdfsig.run_pdfsig(pdf, pdfsig.nss_db(folder, [root]), folder)
    pdfsig.assert_all_trusted(result)
    assert len(result.signatures) == len(report.signatures), result.output
    return report


def watch(page: Any) -> list[str]:
    """Script errors and console errors of ``page`` (asserted empty at the end)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.on(
        "console",
        lambda message: (
            errors.append(f"{page.url}: {message.text}") if message.type == "error" else None
        ),
    )
    return errors
