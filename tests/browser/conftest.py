"""Browser tests: Playwright driving Debian's Chromium (headless) against a live server.

Fixtures: ``browser`` (one Chromium per session), ``phone`` and ``desktop`` pages (360x740 touch
phone, 1366x900 desktop), ``new_context(kind)`` for extra contexts (e.g. a second device), and
``shot(page, name)`` that keeps a screenshot under artifacts/browser/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import scenario

# Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run inside a
# running loop unless told that this is fine (the test thread is not serving requests).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("QIANSHU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SIZES: dict[str, dict[str, Any]] = {
    "phone": {
        "viewport": {"width": 360, "height": 740},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
        "user_agent": (
            "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0 Mobile Safari/537.36 MicroMessenger/8.0"
        ),
    },
    "desktop": {"viewport": {"width": 1366, "height": 900}},
}

pytestmark = pytest.mark.browser


# Module scope: while Playwright's sync API is active its event loop runs in this thread, which
# would break asyncio.run() in other tests (pyHanko); the suite also runs browser tests last.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make test` (installs Debian chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_context(browser: Any, live_server: Any) -> Iterator[Callable[[str], Any]]:
    contexts: list[Any] = []

    def make(kind: str = "desktop") -> Any:
        context = browser.new_context(
            base_url=live_server.url, locale="zh-CN", timezone_id="Asia/Shanghai", **SIZES[kind]
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(params=["phone", "desktop"])
def size(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(new_context: Callable[[str], Any], size: str) -> Any:
    """A page at phone and at desktop size (the test runs once for each)."""
    return new_context(size).new_page()


@pytest.fixture
def shots(artifacts_dir: Path, request: pytest.FixtureRequest) -> scenario.Shots:
    """The scenario tests' screenshots (pages and PDF pages, numbered)."""
    return scenario.Shots(artifacts_dir / "browser", request.node.name)


@pytest.fixture
def shot(artifacts_dir: Path, request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    folder = artifacts_dir / "browser"
    folder.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        test = request.node.name.replace("[", "-").replace("]", "")
        path = folder / f"{test}-{name}.png"
        page.screenshot(path=str(path), full_page=True, scale="css")
        return path

    return take


@pytest.fixture(autouse=True)
def _browser_settings(settings: Any, tmp_path: Path, live_server: Any) -> None:
    """DEBUG for the development outbox page (codes are read there), blobs in a tmp dir,
    links (QR codes, SMS) pointing at the live server."""
    from qianshu.storage.blobs import reset_blob_store_cache

    settings.DEBUG = True
    settings.QIANSHU_OUTBOX_KEEP_SENSITIVE = True
    settings.QIANSHU_SMS_BACKEND = "console"
    settings.QIANSHU_STORAGE = "local"
    settings.QIANSHU_STORAGE_DIR = tmp_path / "blobs"
    settings.PUBLIC_URL = live_server.url
    reset_blob_store_cache()
