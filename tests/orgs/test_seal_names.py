"""A new seal is named in Chinese (公章, 合同专用章 …) whatever the language of the page: the name
is printed on the seal and in its certificate, so an English page must not prefill "Official
seal"."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from django.test import Client
from django.urls import reverse
from django.utils import translation

from qianshu.accounts.models import User
from qianshu.orgs.models import Organization, Seal
from tests.orgs.test_seals import seal_photo_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    # An English request leaves English active in this thread; later tests expect the default.
    yield
    translation.deactivate()


@pytest.fixture
def admin(verified_person: Callable[..., User]) -> User:
    return verified_person("alice")


@pytest.fixture
def org(pki: None, admin: User, verified_org: Callable[..., Organization]) -> Organization:
    return verified_org(admin, name="北京测试科技有限公司", legal_rep_name="王爱丽")


@pytest.fixture
def english_admin(admin: User) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(admin)
    return client


def url(name: str, org: Organization) -> str:
    return reverse(f"orgs:{name}", args=[org.uuid])


def certificate_seal_name(seal: Seal) -> str:
    cert = x509.load_der_x509_certificate(bytes(seal.certificate.certificate_der))
    return str(cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value)


def as_posted(form: Any) -> dict[str, Any]:
    """What the browser sends for ``form`` left as shown (its initial values)."""
    data: dict[str, Any] = {}
    for field in form:
        value = field.value()
        if value is None or value is False or value == "":
            continue
        data[field.name] = "on" if value is True else value
    return data


@pytest.mark.parametrize(
    ("kind", "name", "english_label"),
    [
        ("official", "公章", "Official seal"),
        ("contract", "合同专用章", "Contract seal"),
        ("legal_rep", "法定代表人章", "Legal representative seal"),
    ],
)
def test_an_english_administrators_generated_seal_has_the_chinese_name(
    english_admin: Client, org: Organization, kind: str, name: str, english_label: str
) -> None:
    page = english_admin.get(url("seal-new", org), {"kind": kind})
    assert page.status_code == 200 and page["Content-Language"] == "en"
    form = page.context["form"]
    assert form["name"].value() == name

    response = english_admin.post(
        url("seal-new", org), {"kind": kind, "action": "create", **as_posted(form)}
    )
    assert response.status_code == 302, response.content.decode()
    seal = Seal.objects.get(org=org)
    assert (seal.kind, seal.name) == (kind, name)
    assert certificate_seal_name(seal) == name
    # The page itself stays English: the type is labelled in English, the seal named in Chinese.
    listing = english_admin.get(url("seals", org)).content.decode()
    assert english_label in listing and f">{name}</h2>" in listing


def test_an_english_administrators_uploaded_seal_starts_with_the_chinese_name(
    english_admin: Client, org: Organization
) -> None:
    photo = io.BytesIO(seal_photo_bytes())
    photo.name = "seal.jpg"
    preview = english_admin.post(url("seal-upload", org), {"image": photo})
    assert preview.status_code == 200
    form = preview.context["form"]
    assert form["name"].value() == "公章"
    # The name follows the type in Chinese (seal-editor.js reads data-seal-name).
    html = preview.content.decode()
    assert 'value="finance" data-seal-name="财务专用章"' in html
    assert 'value="custom" data-seal-name=""' in html
    assert ">Finance seal</option>" in html

    saved = english_admin.post(url("seal-upload-save", org), as_posted(form))
    assert saved.status_code == 302
    seal = Seal.objects.get(org=org)
    assert (seal.kind, seal.source, seal.name) == ("official", "photo", "公章")
    assert certificate_seal_name(seal) == "公章"
