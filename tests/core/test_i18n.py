"""The UI speaks Simplified Chinese by default and English when switched."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from django.test import Client

from tests.support.accounts import make_user

pytestmark = pytest.mark.django_db

LOCALE = Path(__file__).resolve().parents[2] / "src/qianshu/locale/en/LC_MESSAGES"

CJK = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3001-\u3011]")
# The language switch shows the other language's own name; the brand mark is a seal character.
ALLOWED = {"中文", "签"}


def visible_cjk(html: str) -> set[str]:
    text = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    runs = set(re.findall(r"[\u3400-\u9fff\uff01-\uff5e\u3001-\u3011]+", text))
    return runs - ALLOWED


@pytest.mark.parametrize("url", ["/", "/login/", "/login/password/"])
def test_public_pages_in_english(url: str) -> None:
    client = Client(headers={"accept-language": "en"})
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "en"
    assert visible_cjk(response.content.decode()) == set()


@pytest.mark.parametrize(
    "url",
    [
        "/me/",
        "/me/email/",
        "/me/password/",
        "/me/reauth/",
        "/me/identity/",
        "/me/identity/start/",
        "/me/identity/pin/",
        "/me/identity/certificate/",
        "/me/signatures/",
        "/me/signatures/draw/",
        "/me/signatures/upload/",
    ],
)
def test_user_centre_in_english(url: str) -> None:
    client = Client(headers={"accept-language": "en"})
    client.force_login(make_user("alice"))
    response = client.get(url, follow=True)
    assert response.status_code == 200
    assert visible_cjk(response.content.decode()) == set()


def test_chinese_is_the_default() -> None:
    response = Client().get("/login/")
    assert response.headers["Content-Language"] == "zh-hans"
    assert "获取验证码" in response.content.decode()


def test_back_office_in_english() -> None:
    client = Client(headers={"accept-language": "en"})
    client.force_login(make_user("operator", phone="13900000000", is_staff=True))
    for url in ["/backoffice/", "/backoffice/identity/"]:
        response = client.get(url)
        assert response.status_code == 200
        assert visible_cjk(response.content.decode()) == set()


def test_english_catalogue_is_complete_and_compiled(tmp_path: Path) -> None:
    """Every entry translated, none fuzzy, and the committed .mo is the compiled .po."""
    po = LOCALE / "django.po"
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", str(tmp_path / "django.mo"), str(po)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr
    assert (tmp_path / "django.mo").read_bytes() == (LOCALE / "django.mo").read_bytes(), (
        "django.mo is stale: run `make messages`"
    )
