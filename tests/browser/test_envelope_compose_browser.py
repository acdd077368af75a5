"""发起签署 in the browser, at phone and desktop size: alice uploads a 2-page PDF, adds a person
and an organisation (chosen in the organisation search among two of the same name), drags a
signature and a seal onto the page (mouse on desktop, touch on the phone), resizes the seal,
saves, and sends. The fields end up where they were dropped, in PDF points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qianshu.envelopes.geometry import SEAL_SIZE, SIGNATURE_SIZE
from qianshu.envelopes.models import Envelope, Field
from qianshu.envelopes.views.documents import page_image
from qianshu.notifications.models import OutboxMessage
from qianshu.pki.actions import do_init_pki
from qianshu.signing.samples import make_test_pdf
from tests.browser.flows import login_by_sms
from tests.support.accounts import PERSONAS
from tests.support.personas import make_seal_org, make_signer, real_name

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _pki() -> None:
    do_init_pki(name="测试平台")


class Pointer:
    """Drags with the mouse, or with one finger (CDP touch events) on the phone."""

    def __init__(self, page: Any, touch: bool) -> None:
        self.page = page
        self.touch = touch
        self.cdp = page.context.new_cdp_session(page) if touch else None

    def _touch(self, kind: str, x: float, y: float) -> None:
        points = [] if kind == "touchEnd" else [{"x": x, "y": y}]
        self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})  # type: ignore[union-attr]

    def drag(self, start: tuple[float, float], end: tuple[float, float], steps: int = 12) -> None:
        (x0, y0), (x1, y1) = start, end
        if self.touch:
            self._touch("touchStart", x0, y0)
            for i in range(1, steps + 1):
                self._touch("touchMove", x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps)
            self._touch("touchEnd", x1, y1)
        else:
            self.page.mouse.move(x0, y0)
            self.page.mouse.down()
            self.page.mouse.move(x1, y1, steps=steps)
            self.page.mouse.up()

    def tap(self, x: float, y: float) -> None:
        if self.touch:
            self.page.touchscreen.tap(x, y)
        else:
            self.page.mouse.click(x, y)


def warm_page_images(envelope: Envelope) -> None:
    """Render the editor's page images up front. The editor loads them in parallel, and the
    SQLite test database (shared cache) refuses concurrent writers instead of waiting."""
    for document in envelope.documents.all():
        for page in range(document.page_count):
            for width in (400, 800, 1600):
                page_image(document.current_id, document.current.read, page, width)


def centre(box: dict[str, float]) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def point_on(page: Any, element: Any, fx: float, fy: float) -> tuple[float, float]:
    """Scroll the point at fractions (fx, fy) of ``element`` to the middle of the screen (below
    the sticky palette on the phone) and return it in viewport coordinates."""
    box = element.bounding_box()
    y = box["y"] + box["height"] * fy
    page.evaluate("dy => window.scrollBy(0, dy)", y - page.viewport_size["height"] * 0.55)
    box = element.bounding_box()
    return box["x"] + box["width"] * fx, box["y"] + box["height"] * fy


@pytest.fixture
def screen(artifacts_dir: Path, request: pytest.FixtureRequest) -> Any:
    """Like ``shot`` but only what is on the screen (the editor's sticky and fixed bars)."""

    def take(page: Any, name: str) -> Path:
        test = request.node.name.replace("[", "-").replace("]", "")
        path = artifacts_dir / "browser" / f"{test}-{name}-screen.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path))
        return path

    return take


def test_compose_place_fields_and_send(
    page: Any, shot: Any, screen: Any, size: str, tmp_path: Path, live_server: Any
) -> None:
    alice = make_signer("alice")
    bob = make_signer("bob")
    charlie = make_signer("charlie")
    org = make_seal_org(charlie, "厦门某某供应链有限公司")
    # another verified organisation of the same name: the search shows both, with their codes
    twin = make_seal_org(make_signer("mallory", "13800000066"), "厦门某某供应链有限公司")
    pdf = tmp_path / "采购合同.pdf"
    pdf.write_bytes(make_test_pdf(pages=2))
    pointer = Pointer(page, touch=size == "phone")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # step 1: the file uploads as soon as it is chosen; the task name follows its name
    login_by_sms(page, PERSONAS["alice"])
    page.goto("/envelopes/new/")
    page.get_by_test_id("compose-form").wait_for()
    shot(page, "1-new")
    page.get_by_test_id("file-input").set_input_files(str(pdf))
    page.get_by_test_id("document-item").wait_for()
    assert page.locator("#id_title").input_value() == "采购合同"
    page.locator("#id_title").fill("办公设备采购合同")
    rows = page.get_by_test_id("recipient-row")
    assert rows.count() == 1  # one empty row to start with
    rows.nth(0).locator("input[name$='-name']").fill(real_name(bob))
    rows.nth(0).locator("input[name$='-phone']").fill(bob.phone)
    page.get_by_test_id("add-seal").click()
    assert rows.count() == 2
    seal_row = rows.nth(1)
    assert seal_row.locator("input[name$='-routing_order']").input_value() == "2"
    assert seal_row.get_by_text("组织名称", exact=True).is_visible()
    # 企业盖章: search the verified organisations, see both of that name, choose by credit code
    seal_row.get_by_test_id("org-query").fill("厦门某某")
    results = seal_row.get_by_test_id("org-result")
    results.nth(1).wait_for()
    assert results.count() == 2
    assert org.credit_code in results.all_inner_texts()[0] + results.all_inner_texts()[1]
    assert twin.credit_code in "".join(results.all_inner_texts())
    shot(page, "2-org-search")
    results.filter(has_text=org.credit_code).click()
    chosen = seal_row.get_by_test_id("org-chosen")
    chosen.wait_for()
    assert org.name in chosen.inner_text() and org.credit_code in chosen.inner_text()
    assert seal_row.locator("input[name$='-org_credit_code']").input_value() == org.credit_code
    assert seal_row.locator("input[name$='-name']").get_attribute("readonly") is not None
    seal_row.locator("input[name$='-contact_name']").fill(real_name(charlie))
    seal_row.locator("input[name$='-phone']").fill(charlie.phone)
    seal_row.locator("select[name$='-required_seal_kind']").select_option("contract")
    shot(page, "2-recipients")
    warm_page_images(Envelope.objects.get(initiator=alice))
    page.get_by_test_id("next-step").click()

    # step 2: the editor
    editor = page.get_by_test_id("field-editor")
    editor.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.ed-page img')].slice(0, 1)"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    envelope = Envelope.objects.get(initiator=alice)
    document = envelope.documents.get()
    signer, sealer = envelope.recipients.order_by("routing_order")
    assert (sealer.org, sealer.org_credit_code) == (org, org.credit_code)  # bound, not the twin
    first_page = page.get_by_test_id("editor-page").nth(0)
    page_box = first_page.bounding_box()
    assert page_box and page_box["width"] > 300
    shot(page, "3-editor")

    # a signature, dragged from the palette onto the upper left of page 1
    target = point_on(page, first_page, 0.3, 0.2)
    pointer.drag(centre(page.get_by_test_id("palette-signature").bounding_box()), target)
    signature = page.locator(".ed-field.ed-f-signature")
    signature.wait_for()
    assert page.get_by_test_id("inspector").is_visible()
    screen(page, "4-signature")
    shot(page, "4-signature")

    # the organisation's seal: on the phone tap it, then tap the page; with a mouse, drag it
    page.get_by_test_id("editor-recipient").nth(1).click()
    seal_at = point_on(page, first_page, 0.7, 0.3)
    if size == "phone":
        page.get_by_test_id("palette-seal").tap()
        page.get_by_text("点击页面放置“印章”").wait_for()
        screen(page, "5-armed")
        pointer.tap(*seal_at)
    else:
        pointer.drag(centre(page.get_by_test_id("palette-seal").bounding_box()), seal_at)
    seal = page.locator(".ed-field.ed-f-seal")
    seal.wait_for()
    before = seal.bounding_box()
    # resize it by its corner handle
    handle = seal.locator(".ed-fhandle").bounding_box()
    pointer.drag(centre(handle), (centre(handle)[0] + 25, centre(handle)[1] + 25))
    after = page.locator(".ed-field.ed-f-seal").bounding_box()
    assert after["width"] > before["width"] + 10
    assert abs(after["width"] - after["height"]) < 2  # a seal stays round
    screen(page, "5-seal")
    shot(page, "5-seal")

    # a cross-page seal (骑缝章): armed, then placed with a tap; a strip on each page's edge
    cross_at = point_on(page, first_page, 0.5, 0.5)
    item = page.get_by_test_id("palette-cross_page_seal")
    if size == "phone":
        item.tap()
    else:
        item.click()
    page.get_by_text("点击页面放置“骑缝章”").wait_for()
    pointer.tap(*cross_at)
    strips = page.locator(".ed-field.ed-f-cross_page_seal")
    strips.nth(1).wait_for()
    assert strips.count() == 2
    page_right = first_page.bounding_box()["x"] + first_page.bounding_box()["width"]
    assert (
        abs(strips.nth(0).bounding_box()["x"] + strips.nth(0).bounding_box()["width"] - page_right)
        < 2
    )
    if size == "phone":
        page.get_by_test_id("inspector-more").click()
    assert page.locator("[data-insp-pages] input:checked").count() == 2
    screen(page, "6-cross-page")

    page.get_by_test_id("editor-save").click()
    page.get_by_text("已保存 3 个签署位置。").wait_for()
    fields = {f.kind: f for f in Field.objects.filter(envelope=envelope)}
    assert set(fields) == {"signature", "seal", "cross_page_seal"}
    box = document.boxes()[0]
    sig = fields["signature"]
    assert (sig.recipient_id, sig.page) == (signer.pk, 0)
    assert sig.x2 - sig.x1 == pytest.approx(SIGNATURE_SIZE[0], abs=0.5)
    assert sig.y2 - sig.y1 == pytest.approx(SIGNATURE_SIZE[1], abs=0.5)
    # centred where it was dropped: 30 % from the left, 20 % from the top (origin bottom-left)
    assert (sig.x1 + sig.x2) / 2 == pytest.approx(box.x1 + 0.3 * box.width, abs=6)
    assert (sig.y1 + sig.y2) / 2 == pytest.approx(box.y2 - 0.2 * box.height, abs=6)
    stamp = fields["seal"]
    assert stamp.recipient_id == sealer.pk
    assert stamp.x2 - stamp.x1 > SEAL_SIZE[0] + 10
    assert stamp.x2 - stamp.x1 == pytest.approx(stamp.y2 - stamp.y1, abs=0.5)
    assert box.x1 <= stamp.x1 < stamp.x2 <= box.x2 and box.y1 <= stamp.y1 < stamp.y2 <= box.y2
    assert (stamp.x1 + stamp.x2) / 2 > box.x1 + 0.5 * box.width
    assert (stamp.y1 + stamp.y2) / 2 > box.y1 + 0.5 * box.height  # upper half

    cross = fields["cross_page_seal"]
    assert (cross.recipient_id, cross.pages) == (sealer.pk, [0, 1])
    assert cross.x2 == pytest.approx(box.x2) and cross.y2 - cross.y1 == pytest.approx(119, abs=0.5)
    assert (cross.y1 + cross.y2) / 2 == pytest.approx(box.y1 + 0.5 * box.height, abs=6)

    # step 3: the summary, then 发起签署
    page.get_by_test_id("editor-next").click()
    page.get_by_test_id("send-form").wait_for()
    assert page.get_by_test_id("summary-recipient").count() == 2
    shot(page, "7-summary")
    page.get_by_test_id("send-submit").click()
    page.wait_for_url(f"**/envelopes/{envelope.uuid}/")
    page.get_by_text("已发起，已通知第一位签署方。").wait_for()
    shot(page, "8-sent")
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.IN_PROGRESS
    assert OutboxMessage.objects.filter(recipient=bob.phone, kind="envelope_sign_request").exists()
    assert errors == []


def test_step_one_shows_errors_and_keeps_the_input(
    page: Any, shot: Any, size: str, tmp_path: Path
) -> None:
    make_signer("alice")
    text = tmp_path / "报价单.txt"
    text.write_text("这不是 PDF")
    login_by_sms(page, PERSONAS["alice"])
    page.goto("/envelopes/new/")
    page.locator("#id_title").fill("设备租赁合同")
    row = page.get_by_test_id("recipient-row").nth(0)
    row.locator("input[name$='-name']").fill("李博文")
    row.locator("input[name$='-phone']").fill("1380000")
    page.get_by_test_id("add-sign").click()
    second = page.get_by_test_id("recipient-row").nth(1)
    second.locator("input[name$='-name']").fill("赵敏")
    page.get_by_test_id("file-input").set_input_files(str(text))  # uploads at once
    page.get_by_test_id("file-errors").wait_for()
    assert "不是 PDF 文件" in page.get_by_test_id("file-errors").inner_text()
    errors = page.locator(".recipient-row .errorlist")
    assert "手机号码不正确" in errors.nth(0).inner_text()
    assert "请填写手机号或电子邮箱。" in errors.nth(1).inner_text()
    assert page.locator("#id_title").input_value() == "设备租赁合同"
    assert row.locator("input[name$='-phone']").input_value() == "1380000"
    draft = Envelope.objects.get()
    assert page.url.endswith(f"/envelopes/{draft.uuid}/edit/")  # a reload edits the same draft
    shot(page, "errors")

    # 草稿箱 lists it, with 继续编辑 and 删除
    page.goto("/envelopes/drafts/")
    item = page.get_by_test_id("draft-item")
    assert item.count() == 1 and "设备租赁合同" in item.inner_text()
    shot(page, "drafts")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("draft-delete").click()
    page.get_by_test_id("drafts-empty").wait_for()
    assert not Envelope.objects.exists()


def test_step_one_works_without_javascript(
    browser: Any, live_server: Any, shot: Any, tmp_path: Path
) -> None:
    """The spare recipient rows, the 上传 button and the role's fields work with script off."""
    alice = make_signer("alice")
    bob = make_signer("bob")
    pdf = tmp_path / "合同.pdf"
    pdf.write_bytes(make_test_pdf(pages=1))
    # log in with script on (the SMS-code button uses it), then browse without
    context = browser.new_context(base_url=live_server.url, locale="zh-CN")
    login_by_sms(context.new_page(), PERSONAS["alice"])
    state = context.storage_state()
    context.close()
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", java_script_enabled=False, storage_state=state
    )
    try:
        page = context.new_page()
        page.goto("/envelopes/new/")
        rows = page.get_by_test_id("recipient-row")
        assert rows.count() == 3  # spare rows instead of 添加 buttons
        page.locator("#id_title").fill("无脚本合同")
        page.locator("#id_files").set_input_files(str(pdf))
        rows.nth(0).locator("input[name$='-name']").fill(real_name(bob))
        rows.nth(0).locator("input[name$='-phone']").fill(bob.phone)
        rows.nth(1).locator("input[value=seal]").check()
        assert rows.nth(1).get_by_text("联系人手机号").is_visible()  # :has() shows its fields
        assert not rows.nth(1).get_by_text("姓名", exact=True).is_visible()
        rows.nth(1).locator("input[value=sign]").check()
        page.get_by_test_id("file-upload").click()
        page.get_by_test_id("document-item").wait_for()
        shot(page, "no-js")
        envelope = Envelope.objects.get(initiator=alice)
        assert envelope.title == "无脚本合同" and envelope.documents.count() == 1
        assert [r.name for r in envelope.recipients.all()] == [real_name(bob)]
        page.get_by_test_id("next-step").click()
        page.get_by_test_id("field-editor").wait_for()
        # (Chromium with script switched off by the test still parses <noscript> as if on)
        assert "拖拽放置签署位置需要浏览器启用 JavaScript" in page.content()
        page.get_by_test_id("editor-next").click()
        page.get_by_test_id("send-form").wait_for()
        assert "签署时自行指定位置" in page.get_by_test_id("summary-recipient").inner_text()
    finally:
        context.close()
