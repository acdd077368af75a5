"""Seal making in the browser (phone and desktop): the generator with its live preview, then a
photo of a physical seal cleaned and saved; the seal list shows both."""

from __future__ import annotations

from typing import Any

import pytest

from qianshu.orgs.models import Seal
from qianshu.pki.actions import do_init_pki
from tests.browser.flows import login_by_sms
from tests.orgs.test_seals import seal_photo_bytes
from tests.support.personas import make_verified_org, make_verified_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONES = {"phone": "13800000061", "desktop": "13800000062"}


@pytest.fixture(autouse=True)
def _pki() -> None:
    do_init_pki(name="测试平台")


def _preview_bytes(page: Any) -> bytes:
    """The PNG the preview image currently shows (fetched again from the URL it names)."""
    url = page.get_by_test_id("seal-preview").get_attribute("data-preview-url")
    response = page.request.get(url)
    assert response.ok, response.text()
    return bytes(response.body())


def test_generate_a_contract_seal_then_upload_a_seal_photo(page: Any, shot: Any, size: str) -> None:
    phone = PHONES[size]
    admin = make_verified_person("alice", phone, real_name="王爱丽")
    org = make_verified_org(admin, name="杭州示例网络科技有限公司", legal_rep_name="王爱丽")
    login_by_sms(page, phone)

    page.goto(f"/orgs/{org.uuid}/seals/")
    page.get_by_test_id("seal-empty").wait_for()
    page.get_by_test_id("seal-add-generate").click()
    page.get_by_test_id("seal-kinds").wait_for()
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.seal-kind img'))"
        ".every(i => i.naturalWidth > 0)"
    )
    shot(page, "choose-type")
    page.get_by_test_id("seal-kind-contract").click()

    # The default specification with its preview.
    preview = page.get_by_test_id("seal-preview")
    preview.wait_for()  # the generator page loads after the click; the predicate needs it there
    page.wait_for_function("() => document.getElementById('seal-preview').naturalWidth === 400")
    assert page.locator("#id_name").input_value() == "合同专用章"
    assert page.get_by_test_id("seal-refresh").is_hidden()  # the preview follows changes
    before_url = preview.get_attribute("data-preview-url")
    before = _preview_bytes(page)
    shot(page, "generator-default")

    # A bigger seal: the preview is redrawn (new parameters, new picture).
    page.locator("#id_size_mm").fill("46")
    page.wait_for_function(
        "() => document.getElementById('seal-preview').dataset.previewUrl.includes('size_mm=46')"
    )
    page.wait_for_function("() => document.getElementById('seal-preview').naturalWidth === 460")
    after_url = preview.get_attribute("data-preview-url")
    assert after_url != before_url
    assert preview.get_attribute("src").startswith("blob:")
    after = _preview_bytes(page)
    assert after != before

    # A refused value shows the server's message instead of a new picture.
    page.locator("#id_spacing_deg").fill("59")
    error = page.get_by_test_id("seal-preview-error")
    error.wait_for()
    assert "字间距过大" in error.inner_text()
    shot(page, "generator-refused")
    page.locator("#id_spacing_deg").fill("")
    page.wait_for_function("() => document.querySelector('.seal-preview-error').hidden")
    shot(page, "generator-edited")

    page.get_by_test_id("seal-create").click()
    page.get_by_test_id("seal-list").wait_for()
    assert "已制作完成" in page.locator(".messages").inner_text()
    generated = Seal.objects.get(org=org)
    assert (generated.kind, generated.source, generated.spec["size_mm"]) == (
        "contract",
        "generated",
        46,
    )
    assert generated.image.read() == after  # what was previewed is what was made

    # 上传图片: a photo of a physical seal.
    page.get_by_test_id("seal-add-upload").click()
    page.get_by_test_id("seal-photo-input").set_input_files(
        {
            "name": "seal.jpg",
            "mimeType": "image/jpeg",
            "buffer": seal_photo_bytes(label="财务专用章"),
        }
    )
    shot(page, "upload")
    page.get_by_test_id("seal-photo-submit").click()
    cleaned = page.get_by_test_id("seal-photo-preview")
    cleaned.wait_for()
    page.wait_for_function("() => document.getElementById('seal-photo-preview').naturalWidth > 300")
    page.locator("#id_kind").select_option("finance")
    assert page.locator("#id_name").input_value() == "财务专用章"  # follows the type
    shot(page, "upload-preview")
    page.get_by_test_id("seal-photo-save").click()

    page.get_by_test_id("seal-list").wait_for()
    items = page.get_by_test_id("seal-item")
    assert items.count() == 2
    names = page.get_by_test_id("seal-name").all_inner_texts()
    assert names == ["合同专用章", "财务专用章"]
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.seal-card img'))"
        ".every(i => i.naturalWidth > 0)"
    )
    shot(page, "list")
    photo = Seal.objects.get(org=org, source="photo")
    assert (photo.kind, photo.name, photo.status) == ("finance", "财务专用章", "active")
