"""Business licence uploads are checked by content: JPG/JPEG/PNG/PDF, at most 5 MB, not damaged;
each refusal is a clear Chinese message and creates nothing."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pikepdf
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from qianshu.accounts.models import User
from qianshu.orgs.licences import PDF, check_licence
from qianshu.orgs.models import Organization
from qianshu.storage.models import Blob
from tests.orgs.conftest import licence_pdf, licence_png
from tests.support.personas import valid_credit_code

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def jpeg_bytes(size: tuple[int, int] = (800, 560)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (240, 230, 210)).save(out, "JPEG", quality=80)
    return out.getvalue()


def exe_bytes() -> bytes:
    # The start of a Windows program (MZ header, DOS stub), then filler.
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 4000


def corrupt_pdf() -> bytes:
    return b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R\n" + b"\x00garbage" * 200


def encrypted_pdf() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(owner="o", user="secret"))
    return out.getvalue()


def upload(client: Client, name: str, data: bytes, content_type: str) -> Any:
    return client.post(
        "/orgs/new/",
        {
            "kind": "enterprise",
            "name": "北京执照测试有限公司",
            "credit_code": valid_credit_code(),
            "legal_rep_name": "赵法人",
            "licence": SimpleUploadedFile(name, data, content_type=content_type),
            "privacy": "on",
        },
    )


@pytest.fixture
def client(verified_person: Callable[..., User]) -> Client:
    client = Client()
    client.force_login(verified_person("alice"))
    return client


@pytest.mark.parametrize(
    ("name", "data", "content_type", "message"),
    [
        ("营业执照.pdf", licence_pdf(pad=6 * MB), PDF, "超过 5 MB（6.0 MB）"),
        ("营业执照.png", exe_bytes(), "image/png", "不是 JPG、JPEG、PNG 图片或 PDF 文件"),
        ("营业执照.pdf", corrupt_pdf(), PDF, "已损坏，无法打开"),
        ("营业执照.png", b"", "image/png", "是空文件"),
        ("营业执照.pdf", encrypted_pdf(), PDF, "已加密或设置了密码"),
        ("营业执照.png", licence_png()[:-200], "image/png", "已损坏，无法打开"),
        ("营业执照.png", licence_png((120, 90)), "image/png", "太小（120×90）"),
        ("营业执照.gif", b"GIF89a" + b"\x00" * 100, "image/gif", "不是 JPG、JPEG、PNG"),
    ],
    ids=[
        "6MB-pdf",
        "exe-renamed-png",
        "corrupt-pdf",
        "empty",
        "encrypted-pdf",
        "truncated-png",
        "tiny-png",
        "gif",
    ],
)
def test_bad_licences_are_refused_clearly(
    client: Client, name: str, data: bytes, content_type: str, message: str
) -> None:
    response = upload(client, name, data, content_type)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert name in page or not data  # the message names the file
    assert not Organization.objects.exists()
    assert not Blob.objects.exists()


def test_a_missing_licence_is_refused(client: Client) -> None:
    response = client.post(
        "/orgs/new/",
        {
            "kind": "enterprise",
            "name": "北京执照测试有限公司",
            "credit_code": valid_credit_code(),
            "legal_rep_name": "赵法人",
            "privacy": "on",
        },
    )
    assert response.status_code == 400
    assert "请上传营业执照" in response.content.decode()


@pytest.mark.parametrize(
    ("name", "data", "stored_type"),
    [
        ("licence.png", licence_png(), "image/png"),
        ("licence.jpeg", jpeg_bytes(), "image/jpeg"),
        ("licence.pdf", licence_pdf(), PDF),
        # The name does not matter, the content does: a JPEG called .png is a JPEG.
        ("scan.png", jpeg_bytes(), "image/jpeg"),
        ("licence.pdf", licence_pdf(pad=4 * MB), PDF),
    ],
)
def test_good_licences_are_kept_with_their_real_type(
    client: Client, name: str, data: bytes, stored_type: str
) -> None:
    response = upload(client, name, data, "application/octet-stream")
    assert response.status_code == 302, response.content.decode()[:2000]
    org = Organization.objects.get()
    assert org.licence is not None
    assert org.licence.content_type == stored_type
    assert org.licence.read() == data


def test_check_licence_on_bytes() -> None:
    with pytest.raises(ValidationError) as excinfo:
        check_licence(b"x" * (5 * MB + 1), "big.png")
    assert excinfo.value.code == "too_large"
    assert check_licence(licence_png()).content_type == "image/png"
    assert check_licence(licence_pdf()).is_pdf


def test_a_pdf_licence_is_rendered_once_at_upload() -> None:
    assert check_licence(licence_png()).preview is None  # a picture is its own preview
    preview = check_licence(licence_pdf()).preview
    assert preview is not None
    with Image.open(io.BytesIO(preview)) as page:
        assert page.format == "PNG"
        assert page.width == 1000
        assert abs(page.height - round(1000 * 842 / 595)) <= 1
