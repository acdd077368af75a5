"""印章授权 in the browser: alice (administrator) grants a seal to bob; bob, logged in by SMS on
another device, sees it under 我可用的印章 and seals a PDF with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qianshu.core.meta import TASK
from qianshu.identity.actions import do_set_signing_pin
from qianshu.orgs.models import Membership, SealGrant, SealUsage
from qianshu.pki.actions import do_init_pki
from qianshu.signing.samples import make_test_pdf
from tests.browser.flows import login_by_sms
from tests.support.accounts import PERSONAS
from tests.support.personas import make_verified_org, make_verified_person
from tests.support.seals import make_seal

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PIN = "482913"


@pytest.fixture(autouse=True)
def _pki() -> None:
    do_init_pki(name="测试平台")


def test_alice_grants_a_seal_and_bob_sees_and_uses_it(
    page: Any, new_context: Any, shot: Any, size: str, tmp_path: Path
) -> None:
    alice = make_verified_person("alice")
    bob = make_verified_person("bob")
    do_set_signing_pin(PIN, actor=bob, meta=TASK)
    org = make_verified_org(alice, name="北京测试科技有限公司", legal_rep_name="王爱丽")
    Membership.objects.create(org=org, user=bob, role=Membership.Role.SEAL_KEEPER)
    seal = make_seal(org, alice)

    # alice grants the 合同专用章 to bob
    login_by_sms(page, PERSONAS["alice"])
    page.goto(f"/orgs/{org.uuid}/grants/")
    page.get_by_test_id("grant-form").wait_for()
    assert page.get_by_test_id("grant-legal-rep-phone").is_hidden()
    page.locator("#id_seal").select_option(str(seal.pk))
    page.locator("#id_grantee").select_option(str(bob.pk))
    assert page.locator("#id_valid_from").input_value()  # defaults: now → +1 year
    assert page.locator("#id_valid_until").input_value()
    page.locator("#id_note").fill("采购合同用印")
    shot(page, "grant-form")
    page.get_by_test_id("grant-submit").click()
    row = page.get_by_test_id("grant-row")
    row.wait_for()
    assert "合同专用章" in row.inner_text() and "有效" in row.inner_text()
    assert page.locator(".msg-success").first.is_visible()
    shot(page, "granted")
    assert SealGrant.objects.get().grantee == bob

    # bob, on his own device, sees it under 我可用的印章
    bob_page = new_context(size).new_page()
    login_by_sms(bob_page, PERSONAS["bob"])
    bob_page.goto(f"/orgs/{org.uuid}/my-seals/")
    card = bob_page.get_by_test_id("my-seal")
    card.wait_for()
    assert bob_page.get_by_test_id("my-seal-name").inner_text() == "合同专用章"
    # The card shows before its picture has loaded: wait for the picture.
    bob_page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=card.locator("img").element_handle()
    )
    shot(bob_page, "my-seals")

    # … and uses it on a PDF, confirming with his PIN
    bob_page.get_by_test_id("my-seal-use").click()
    bob_page.get_by_test_id("seal-use-form").wait_for()
    pdf = tmp_path / "采购合同.pdf"
    pdf.write_bytes(make_test_pdf(pages=2))
    bob_page.locator("#id_document").set_input_files(str(pdf))
    bob_page.locator("#id_pin").fill(PIN)
    shot(bob_page, "seal-use")
    with bob_page.expect_download() as download:
        bob_page.get_by_test_id("seal-use-submit").click()
    sealed = Path(download.value.path()).read_bytes()
    assert sealed.startswith(b"%PDF-")
    assert download.value.suggested_filename.endswith(".pdf")
    usage = SealUsage.objects.get()
    assert usage.user == bob and usage.document_name == "采购合同.pdf"

    # alice reads the use in 用印记录, then revokes the grant: bob's list is empty at once
    page.goto(f"/orgs/{org.uuid}/usage/")
    assert "采购合同.pdf" in page.get_by_test_id("usage-row").first.inner_text()
    shot(page, "usage")
    page.goto(f"/orgs/{org.uuid}/grants/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("grant-revoke").click()
    page.get_by_test_id("grants-ended").wait_for()
    bob_page.goto(f"/orgs/{org.uuid}/my-seals/")
    bob_page.get_by_test_id("my-seals-empty").wait_for()
    shot(bob_page, "after-revoke")
