"""文档验证 in Chromium at phone and desktop size (issue 13): an anonymous visitor finds the
page from the home page, uploads a signed file and reads the verdict per signature; nothing
is wider than the screen (the SHA-256 and certificate chains wrap)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from qianshu.signing import pki
from qianshu.signing.ephemeral import EphemeralPlatform
from tests.signing import helpers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    platform = EphemeralPlatform()
    folder = tmp_path_factory.mktemp("verify")
    # Signed in another thread: Playwright's event loop runs in this one, pyHanko runs its own.
    with ThreadPoolExecutor(1) as pool:
        doc = pool.submit(helpers.signed_document, platform).result()
    assert doc.finished is not None
    (folder / "采购合同.pdf").write_bytes(doc.finished)
    (folder / "root.pem").write_bytes(pki.certificate_pem(platform.pki.root.certificate))
    return {"pdf": folder / "采购合同.pdf", "root": folder / "root.pem"}


def test_visitor_verifies_a_signed_file(
    page: Any, files: dict[str, Path], settings: Any, shot: Callable[[Any, str], Path]
) -> None:
    settings.QIANSHU_EXTRA_TRUST_ROOTS = str(files["root"])
    page.goto("/")
    page.get_by_test_id("home-verify").get_by_role("link").click()
    page.wait_for_url("**/verify/")
    page.get_by_test_id("verify-file").set_input_files(str(files["pdf"]))
    page.get_by_test_id("verify-submit").click()
    verdict = page.get_by_test_id("verify-verdict")
    verdict.wait_for()
    assert verdict.inner_text() == "有效"
    assert page.get_by_test_id("verify-signature").count() >= 2
    assert "Alice" in page.get_by_test_id("verify-result").locator("xpath=..").inner_text()
    widths = page.evaluate(
        "() => [document.documentElement.clientWidth, document.documentElement.scrollWidth]"
    )
    assert widths[1] <= widths[0], f"the page scrolls sideways: {widths}"
    shot(page, "result")
    with page.expect_download() as download:
        page.get_by_test_id("verify-download").click()
    assert download.value.suggested_filename.startswith("verification-")
