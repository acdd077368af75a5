"""Handwritten signatures in the browser: draw with the mouse, upload a scan, QR hand-off."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image

from qianshu.accounts.models import HandwrittenSignature
from tests.accounts.signature_images import scan_jpeg
from tests.browser.flows import draw_strokes, login_by_sms

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONES = {"phone": "13800000021", "desktop": "13800000022"}


def test_draw_a_signature_with_mouse_strokes(page: Any, shot: Any, size: str) -> None:
    login_by_sms(page, PHONES[size])
    page.goto("/me/signatures/")
    page.get_by_test_id("signature-add-draw").click()
    save = page.get_by_test_id("signature-save")
    assert save.is_disabled()  # nothing drawn yet
    page.get_by_text("请使用正楷书写").first.wait_for()
    draw_strokes(page)
    page.get_by_test_id("signature-undo").click()  # drop the loop, then write it again
    draw_strokes(page)
    shot(page, "drawn")
    save.click()
    page.get_by_test_id("signature-item").first.wait_for()
    shot(page, "list")
    signature = HandwrittenSignature.objects.get(user__phone=PHONES[size])
    assert signature.source == "drawn" and signature.is_default
    assert page.get_by_test_id("signature-default").is_visible()


def test_upload_a_scanned_signature_and_see_the_cleaned_preview(
    page: Any, shot: Any, size: str, tmp_path: Any
) -> None:
    login_by_sms(page, PHONES[size])
    scan = tmp_path / "scan.jpg"
    scan.write_bytes(scan_jpeg())
    page.goto("/me/signatures/")
    page.get_by_test_id("signature-add-upload").click()
    page.get_by_test_id("signature-upload-input").set_input_files(str(scan))
    page.get_by_test_id("signature-upload-submit").click()
    preview = page.get_by_test_id("signature-preview")
    preview.wait_for()
    # the preview is the cleaned transparent PNG the platform made from the photo
    src = preview.get_attribute("src")
    assert src.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    assert image.format == "PNG" and image.mode == "RGBA"
    alpha = image.getchannel("A")
    w, h = image.size
    assert {alpha.getpixel(p) for p in [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)]} == {0}
    assert alpha.getextrema()[1] == 255  # and there is ink
    shot(page, "preview")
    assert not HandwrittenSignature.objects.filter(user__phone=PHONES[size]).exists()
    page.get_by_test_id("signature-upload-save").click()
    page.get_by_test_id("signature-item").first.wait_for()
    assert HandwrittenSignature.objects.get(user__phone=PHONES[size]).source == "upload"
    shot(page, "saved")


def test_upload_of_a_non_picture_shows_an_error(new_context: Any, tmp_path: Any) -> None:
    page = new_context("desktop").new_page()
    login_by_sms(page, "13800000023")
    fake = tmp_path / "sign.png"
    fake.write_bytes(b"MZ\x90\x00" + b"\x00" * 200)
    page.goto("/me/signatures/")
    page.get_by_test_id("signature-add-upload").click()
    page.get_by_test_id("signature-upload-input").set_input_files(str(fake))
    page.get_by_test_id("signature-upload-submit").click()
    page.locator(".errorlist, .msg-error").first.wait_for()
    assert not HandwrittenSignature.objects.exists()


def test_qr_hand_off_from_desktop_to_phone(new_context: Any, shot: Any) -> None:
    desktop = new_context("desktop").new_page()
    login_by_sms(desktop, "13800000024")
    desktop.goto("/me/signatures/")
    desktop.get_by_test_id("signature-add-phone").click()  # creates the hand-off at once
    desktop.get_by_test_id("handoff-qr").locator("svg").wait_for()
    link = desktop.get_by_test_id("handoff-link").inner_text().strip()
    shot(desktop, "desktop-qr")

    # The phone "scans" the code: a separate browser context with no session.
    phone = new_context("phone").new_page()
    phone.goto(link)
    draw_strokes(phone)
    shot(phone, "phone-drawn")
    phone.get_by_test_id("signature-save").click()
    phone.get_by_test_id("phone-done").wait_for()
    shot(phone, "phone-done")

    # The desktop page picks the signature up by itself.
    desktop.get_by_test_id("handoff-done").wait_for(timeout=20_000)
    shot(desktop, "desktop-done")
    signature = HandwrittenSignature.objects.get(user__phone="13800000024")
    assert signature.source == "phone"
    # the link is single use
    again = new_context("phone").new_page()
    again.goto(link)
    again.get_by_test_id("phone-error").wait_for()
