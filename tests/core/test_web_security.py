"""Web hardening (issue 10, item 14): a Content-Security-Policy without inline script on every
response, Referrer- and Permissions-Policy, HSTS / SSL redirect settings with deploy checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.test.utils import override_settings

from tests.core.test_settings import _run
from tests.support.accounts import make_user

SRC = Path(__file__).resolve().parents[2] / "src" / "qianshu"
TEST_ENV = {
    # This tree's code, not whatever copy of qianshu the virtualenv has installed.
    "PYTHONPATH": str(SRC.parent),
    "QIANSHU_SECRET_KEY": "x" * 50,
    "QIANSHU_MASTER_KEY": "dGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmchISE=",
}


def directives(header: str) -> dict[str, list[str]]:
    parsed = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in parsed}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/", "/login/", "/admin/login/", "/no-such-page/", "/static/qianshu/app.js"]
)
def test_every_response_carries_the_policy(url: str) -> None:
    response = Client().get(url)
    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:", "blob:"]
    assert policy["style-src-elem"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["default-src"] + policy["script-src"]
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_pages_switch_off_the_camera_and_other_features() -> None:
    user = make_user("alice")
    client = Client()
    client.force_login(user)
    for url in ("/", "/me/", "/me/identity/"):
        response = client.get(url, follow=True)
        assert "camera=()" in response["Permissions-Policy"], url
        assert "geolocation=()" in response["Permissions-Policy"], url


# <script> elements of the templates: only external files (src=) may run; JSON data is inert.
_SCRIPT = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
_INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def test_no_template_has_inline_script() -> None:
    offenders = []
    for template in SRC.glob("*/templates/**/*.html"):
        text = template.read_text()
        for attributes in _SCRIPT.findall(text):
            if "src=" not in attributes and "application/json" not in attributes:
                offenders.append(f"{template.relative_to(SRC)}: <script{attributes}>")
        if _INLINE_HANDLER.search(text.replace("data-on", "")) or "javascript:" in text:
            offenders.append(f"{template.relative_to(SRC)}: inline event handler or javascript:")
        if "<style" in text and "notifications/email.html" not in str(template):
            offenders.append(f"{template.relative_to(SRC)}: <style> element")
    assert offenders == []


@pytest.mark.django_db
@override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True)
def test_hsts_header_over_https() -> None:
    response = Client().get("/login/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True, SECURE_REDIRECT_EXEMPT=[r"^pki/"])
def test_ssl_redirect_spares_the_pki_endpoints() -> None:
    response = Client().get("/login/")
    assert response.status_code == 301 and response["Location"] == "https://testserver/login/"
    assert Client().get("/pki/crl/nothing.crl").status_code == 404  # answered, not redirected


def _settings_of(env: dict[str, str]) -> str:
    code = (
        "from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, "
        "s.SECURE_SSL_REDIRECT)"
    )
    result = _run({**TEST_ENV, **env}, "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_hsts_and_redirect_come_from_the_environment(tmp_path: Path) -> None:
    data = {"QIANSHU_DATA_DIR": str(tmp_path)}
    assert _settings_of(data) == "0 False False False"
    https = {**data, "QIANSHU_PUBLIC_URL": "https://sign.example.cn"}
    configured = {
        **https,
        "QIANSHU_HSTS_SECONDS": "31536000",
        "QIANSHU_HSTS_INCLUDE_SUBDOMAINS": "1",
        "QIANSHU_HSTS_PRELOAD": "1",
        "QIANSHU_SSL_REDIRECT": "1",
    }
    assert _settings_of(configured) == "31536000 True True True"
    # HSTS is never sent for a plain http public URL (it would lock browsers out).
    assert _settings_of({**configured, "QIANSHU_PUBLIC_URL": "http://10.0.0.5"}).startswith("0 ")


def test_deploy_check_warns_while_https_hardening_is_off(tmp_path: Path) -> None:
    env = {
        **TEST_ENV,
        "QIANSHU_DATA_DIR": str(tmp_path),
        "QIANSHU_PUBLIC_URL": "https://sign.example.cn",
        "QIANSHU_ALLOWED_HOSTS": "sign.example.cn",
    }
    off = _run(env, "check", "--deploy")
    assert "qianshu.W020" in off.stderr and "qianshu.W021" in off.stderr
    assert "security.W004" not in off.stderr and "security.W008" not in off.stderr
    on = _run(
        {**env, "QIANSHU_HSTS_SECONDS": "31536000", "QIANSHU_SSL_REDIRECT": "1"},
        "check",
        "--deploy",
    )
    assert "qianshu.W020" not in on.stderr and "qianshu.W021" not in on.stderr
    plain = _run(
        {**env, "QIANSHU_PUBLIC_URL": "http://sign.example.cn", "QIANSHU_SSL_REDIRECT": "1"},
        "check",
        "--deploy",
    )
    assert "qianshu.W022" in plain.stderr
