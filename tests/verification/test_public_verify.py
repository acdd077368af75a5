"""文档验证 (/verify/): anyone uploads a PDF and reads the verdict per signature (issue 13).

Written as a visitor and as an attacker would try it: a good file from a trusted platform, a
file from a platform nobody trusts, a tampered file, something that is not a PDF, a file too
large, a flood of uploads, and a forged or altered report download. Uploaded files must not
be kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from qianshu.signing import pki
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.storage.blobs import reset_blob_store_cache
from qianshu.storage.models import Blob
from qianshu.verification.views import REPORT_SALT
from tests.signing import helpers

pytestmark = pytest.mark.django_db

URL = "/verify/"


@pytest.fixture(scope="module")
def platform() -> EphemeralPlatform:
    return EphemeralPlatform()


@pytest.fixture(scope="module")
def signed_pdf(platform: EphemeralPlatform) -> bytes:
    doc = helpers.signed_document(platform)
    assert doc.finished is not None
    return doc.finished


@pytest.fixture
def trusted(settings: Any, platform: EphemeralPlatform, tmp_path: Path) -> None:
    root = tmp_path / "root.pem"
    root.write_bytes(pki.certificate_pem(platform.pki.root.certificate))
    settings.QIANSHU_EXTRA_TRUST_ROOTS = str(root)


def _upload(client: Client, data: bytes, name: str = "合同.pdf", **extra: Any) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(name, data, content_type="application/pdf")
    return client.post(URL, {"file": upload}, **extra)


def _files_under(path: Path) -> set[Path]:
    return {p for p in path.rglob("*") if p.is_file()} if path.exists() else set()


def test_page_is_public_and_linked_from_home(client: Client) -> None:
    page = client.get(URL)
    assert page.status_code == 200
    assert 'data-testid="verify-form"' in page.content.decode()
    assert reverse("verification:page") == URL
    home = client.get("/").content.decode()
    assert f'href="{URL}"' in home


@pytest.fixture
def own_storage(settings: Any, tmp_path: Path) -> Iterator[list[Path]]:
    """The blob store and the media directory in folders of this test only (Django's default
    MEDIA_ROOT is the working directory, where the other test processes write meanwhile)."""
    settings.QIANSHU_STORAGE = "local"
    settings.QIANSHU_STORAGE_DIR = tmp_path / "blobs"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    reset_blob_store_cache()
    yield [tmp_path / "blobs", tmp_path / "media"]
    reset_blob_store_cache()


def test_valid_file_from_a_trusted_platform(
    client: Client, signed_pdf: bytes, trusted: None, own_storage: list[Path]
) -> None:
    blobs_before = Blob.objects.count()
    response = _upload(client, signed_pdf)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="verify-verdict">有效<' in html
    assert "Alice" in html
    assert "是，签署的内容未被篡改" in html
    assert "可信：证书链到本平台或配置的信任根" in html
    assert "PAdES B-LTA" in html
    assert html.count('data-testid="verify-signature"') >= 2
    # The file is not kept: no blob, no file written.
    assert Blob.objects.count() == blobs_before
    assert [_files_under(folder) for folder in own_storage] == [set(), set()]


def test_file_from_an_untrusted_platform_is_not_called_valid(
    client: Client, signed_pdf: bytes
) -> None:
    html = _upload(client, signed_pdf).content.decode()
    assert 'data-testid="verify-verdict">有效<' not in html
    assert "不可信" in html


def test_tampered_file_is_invalid(client: Client, signed_pdf: bytes, trusted: None) -> None:
    marker = b"/Contents <"
    position = signed_pdf.index(b"stream", signed_pdf.index(b"/Type /Page")) + 20
    tampered = (
        signed_pdf[:position] + bytes([signed_pdf[position] ^ 0x01]) + signed_pdf[position + 1 :]
    )
    assert tampered != signed_pdf and marker in tampered
    html = _upload(client, tampered).content.decode()
    assert 'data-testid="verify-verdict">无效<' in html


def test_not_a_pdf(client: Client) -> None:
    response = _upload(client, b"MZ\x90\x00 not a pdf at all", name="setup.exe")
    assert response.status_code == 400
    assert "这不是 PDF 文件" in response.content.decode()


def test_no_file(client: Client) -> None:
    response = client.post(URL, {})
    assert response.status_code == 400
    assert "请选择要验证的 PDF 文件" in response.content.decode()


def test_file_too_large(client: Client, signed_pdf: bytes, settings: Any) -> None:
    settings.QIANSHU_VERIFY_MAX_BYTES = 1024
    response = _upload(client, signed_pdf)
    assert response.status_code == 413
    assert "文件过大" in response.content.decode()


def test_uploads_are_rate_limited_per_address(
    client: Client, signed_pdf: bytes, settings: Any
) -> None:
    settings.QIANSHU_VERIFY_PER_HOUR = 2
    for _ in range(2):
        assert _upload(client, b"%PDF-1.7 junk", REMOTE_ADDR="10.0.0.1").status_code == 200
    refused = _upload(client, signed_pdf, REMOTE_ADDR="10.0.0.1")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "验证次数过多" in refused.content.decode()
    # Another address is not affected.
    assert _upload(client, b"%PDF-1.7 junk", REMOTE_ADDR="10.0.0.2").status_code == 200


def test_report_download_is_the_signed_report(
    client: Client, signed_pdf: bytes, trusted: None
) -> None:
    html = _upload(client, signed_pdf).content.decode()
    token = html.split('name="report" value="', 1)[1].split('"', 1)[0]
    response = client.post(reverse("verification:report"), {"report": token})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    report = json.loads(response.content)
    assert report["verdict"] == "valid"
    assert report["file_name"] == "合同.pdf"
    import hashlib

    assert report["sha256"] == hashlib.sha256(signed_pdf).hexdigest()
    assert "Alice" in [s["signer_name"] for s in report["signatures"]]


def test_a_forged_or_altered_report_is_refused(client: Client) -> None:
    forged = signing.dumps({"verdict": "valid"}, salt="another.salt")
    altered = signing.dumps({"verdict": "invalid"}, salt=REPORT_SALT)[:-2] + "xx"
    for token in (forged, altered, "", "not-a-token"):
        response = client.post(reverse("verification:report"), {"report": token})
        assert response.status_code == 400
        assert "验证报告已过期或无效" in response.content.decode()


def test_english(client: Client, signed_pdf: bytes, trusted: None) -> None:
    html = _upload(client, signed_pdf, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="verify-verdict">Valid<' in html
    assert "Signer" in html
