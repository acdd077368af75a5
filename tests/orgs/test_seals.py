"""Seals (印章制作 / 印章管理): the generator and its preview, photo upload, keys and
certificates, 停用 / 启用 / 销毁 with revocation, and who may do what."""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from django.test import Client, override_settings
from django.urls import reverse
from PIL import Image, ImageDraw, ImageFont
from pyhanko_certvalidator import CertificateValidator, ValidationContext

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.orgs import seal_specs, seals
from qianshu.orgs.actions import seals as seal_actions
from qianshu.orgs.models import Membership, Organization, OrgEvent, Seal
from qianshu.orgs.seals import SealError, seal_signing_key
from qianshu.pki import keystores
from qianshu.pki.models import IssuedCertificate
from qianshu.pki.platform import load_platform
from qianshu.signing import fonts
from qianshu.signing.seals import SquareSealSpec, render_seal, square_seal_text
from qianshu.signing.signers import to_asn1
from tests.orgs.conftest import client_for

FONT = fonts.SERIF_BOLD
LEGAL_REP = "张三"
ORG_NAME = "北京测试科技有限公司"


# --- helpers ---


def seal_photo_bytes(*, red: bool = True, fmt: str = "JPEG", label: str = "合同专用章") -> bytes:
    """A photo-like picture of a seal impression: a red ring with red text and a star on
    slightly uneven white paper, with black printed text beside it."""
    image = Image.new("RGB", (900, 700), (246, 244, 238))
    draw = ImageDraw.Draw(image)
    for y in range(0, 700, 7):  # a soft lighting gradient
        shade = 246 - y // 40
        draw.line([(0, y), (900, y)], fill=(shade, shade - 1, shade - 6), width=7)
    ink = (200, 30, 40) if red else (40, 40, 40)
    draw.ellipse((300, 150, 640, 490), outline=ink, width=14)
    font = ImageFont.truetype(FONT, 44)
    small = ImageFont.truetype(FONT, 30)
    draw.text((470, 250), "测试科技", fill=ink, font=font, anchor="mm")
    draw.polygon(
        [
            (470, 290),
            (490, 345),
            (545, 345),
            (500, 375),
            (518, 430),
            (470, 397),
            (422, 430),
            (440, 375),
            (395, 345),
            (450, 345),
        ],
        fill=ink,
    )
    draw.text((470, 440), label, fill=ink, font=small, anchor="mm")
    draw.text((40, 60), "甲方（盖章）：", fill=(20, 20, 20), font=small)
    out = io.BytesIO()
    image.save(out, format=fmt, quality=90)
    return out.getvalue()


def spec_post(org: Organization, kind: str, **changes: Any) -> dict[str, Any]:
    """The generator form's POST data with the default specification of ``kind``."""
    data: dict[str, Any] = {"kind": kind, "action": "create"}
    for key, value in seal_specs.default_params(org, kind).items():
        if value is None or value is False:
            continue
        data[key] = "on" if value is True else value
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def preview_query(org: Organization, kind: str, **changes: Any) -> dict[str, Any]:
    data = spec_post(org, kind, **changes)
    data.pop("action")
    data.pop("name", None)
    return data


def make_seal(org: Organization, admin: User, kind: str = Seal.Kind.CONTRACT, **kw: Any) -> Seal:
    """A generated seal through the action (default specification)."""
    params = {**seal_specs.default_params(org, kind), **kw}
    return seal_actions.do_create_generated_seal(
        org,
        kind=kind,
        name=params["name"] or "测试章",
        spec=seal_specs.build_spec(org, params),
        params=seal_specs.stored_spec(kind, params),
        actor=admin,
        meta=TASK,
    )


def add_member(org: Organization, user: User, role: str) -> Membership:
    return Membership.objects.create(org=org, user=user, role=role)


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert image.mode == "RGBA"
        return image.size


@pytest.fixture
def admin(verified_person: Callable[..., User]) -> User:
    return verified_person("alice")


@pytest.fixture
def org(pki: None, admin: User, verified_org: Callable[..., Organization]) -> Organization:
    return verified_org(admin, name=ORG_NAME, legal_rep_name=LEGAL_REP)


@pytest.fixture
def admin_client(admin: User) -> Client:
    return client_for(admin)


def url(name: str, org: Organization, seal: Seal | None = None) -> str:
    return reverse(f"orgs:{name}", args=[org.uuid] + ([seal.uuid] if seal else []))


# --- 自动生成 ---


def test_generated_contract_seal_has_its_own_key_and_a_certificate_under_the_platform_ca(
    admin_client: Client, org: Organization, admin: User
) -> None:
    page = admin_client.get(url("seal-new", org), {"kind": "contract"})
    assert page.status_code == 200
    assert "如果这些默认规格符合您的要求" in page.content.decode()

    response = admin_client.post(url("seal-new", org), spec_post(org, "contract"))
    assert response.status_code == 302, response.content.decode()
    seal = Seal.objects.get(org=org)
    assert (seal.kind, seal.name, seal.source, seal.status) == (
        "contract",
        "合同专用章",
        "generated",
        "active",
    )
    assert seal.key_store == "software"
    assert seal.spec["shape"] == "round" and seal.spec["size_mm"] == 40
    assert seal.spec["code_mode"] == "credit"
    assert png_size(seal.image.read()) == (400, 400)

    # The certificate: issued by the platform's issuing CA, naming org, credit code and seal.
    platform = load_platform()
    cert = x509.load_der_x509_certificate(bytes(seal.certificate.certificate_der))
    issuing = platform.pki.issuing.certificate
    assert cert.issuer == issuing.subject
    cert.verify_directly_issued_by(issuing)
    issuing.verify_directly_issued_by(platform.pki.root.certificate)
    subject = cert.subject

    def attr(oid: x509.ObjectIdentifier) -> str:
        return str(subject.get_attributes_for_oid(oid)[0].value)

    assert attr(NameOID.ORGANIZATION_NAME) == ORG_NAME
    assert org.credit_code in attr(NameOID.ORGANIZATION_IDENTIFIER)
    assert attr(NameOID.ORGANIZATIONAL_UNIT_NAME) == "合同专用章"
    assert attr(NameOID.SERIAL_NUMBER) == str(seal.uuid)
    assert seal.certificate.kind == IssuedCertificate.Kind.SEAL

    # Path validation with the platform root as the only trust root.
    context = ValidationContext(
        trust_roots=[to_asn1(platform.pki.root.certificate)], allow_fetching=False
    )
    validator = CertificateValidator(
        to_asn1(cert), intermediate_certs=[to_asn1(issuing)], validation_context=context
    )
    path = asyncio.run(validator.async_validate_path())
    assert path.pkix_len == 2

    # The seal's own key (from the key store) matches the certificate and signs.
    key = seal_signing_key(seal)
    signature = key.sign(b"contract bytes")
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, b"contract bytes", ec.ECDSA(hashes.SHA256()))

    event = OrgEvent.objects.get(org=org, action="seal_created")
    assert event.actor == admin
    assert event.detail["seal"] == str(seal.uuid)
    assert event.detail["serial"] == seal.certificate.serial_hex

    listing = admin_client.get(url("seals", org)).content.decode()
    assert "合同专用章" in listing and seal.certificate.serial_hex in listing

    cer = admin_client.get(url("seal-certificate", org, seal))
    assert cer.status_code == 200
    assert cer["Content-Type"] == "application/pkix-cert"
    assert x509.load_der_x509_certificate(cer.content) == cert


def test_every_seal_gets_a_different_key_and_certificate(org: Organization, admin: User) -> None:
    one, two = make_seal(org, admin), make_seal(org, admin, seal_text="合同专用章")
    assert one.certificate_id != two.certificate_id
    assert seal_signing_key(one).public_key_der() != seal_signing_key(two).public_key_der()


def test_edited_specification_is_kept_and_drawn(admin_client: Client, org: Organization) -> None:
    data = spec_post(
        org,
        "finance",
        name="财务专用章",
        shape="oval",
        width_mm="44",
        height_mm="30",
        code_mode="custom",
        code="1234567890123",
        name_font_mm="6.5",
    )
    data.pop("star")
    assert admin_client.post(url("seal-new", org), data).status_code == 302
    seal = Seal.objects.get(org=org)
    assert png_size(seal.image.read()) == (440, 300)
    assert seal.spec["shape"] == "oval" and seal.spec["code"] == "1234567890123"
    assert seal.spec["star"] is False and seal.spec["name_font_mm"] == 6.5
    spec = seal_specs.build_spec(org, seal.spec)
    assert render_seal(spec) == seal.image.read()  # the stored spec renders the same image


def test_credit_code_digits_on_the_lower_arc(org: Organization) -> None:
    org.credit_code = "91110108MA01ABCD2X"  # letters are skipped: 91110108 01 2 → too few
    assert seal_specs.credit_code_digits(org) == ""
    org.credit_code = "911101080000123456"
    assert seal_specs.credit_code_digits(org) == "1080000123456"
    spec = seal_specs.build_spec(org, seal_specs.default_params(org, "contract"))
    assert getattr(spec, "code", None) == "1080000123456"


def test_overseas_organisation_seal_names_its_registration_number(
    pki: None, admin: User, verified_org: Callable[..., Organization]
) -> None:
    overseas = verified_org(
        admin,
        name="香港示例贸易有限公司",
        kind=Organization.Kind.OVERSEAS,
        registration_number="HK-2345678",
    )
    form_params = seal_specs.default_params(overseas, "contract")
    assert form_params["code_mode"] == "none"  # no credit code to print
    seal = make_seal(overseas, admin)
    cert = x509.load_der_x509_certificate(bytes(seal.certificate.certificate_der))
    org_id = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value
    assert "HK-2345678" in str(org_id)


def test_legal_rep_seal_is_square_with_the_legal_representatives_name(
    admin_client: Client, org: Organization
) -> None:
    page = admin_client.get(url("seal-new", org), {"kind": "legal_rep"}).content.decode()
    assert LEGAL_REP in page
    response = admin_client.post(url("seal-new", org), spec_post(org, "legal_rep"))
    assert response.status_code == 302, response.content.decode()
    seal = Seal.objects.get(org=org, kind="legal_rep")
    width, height = png_size(seal.image.read())
    assert width == height == 200
    assert seal.spec["shape"] == "square"
    spec = seal_specs.build_spec(org, seal.spec)
    assert isinstance(spec, SquareSealSpec) and spec.name == LEGAL_REP
    assert square_seal_text(spec.name, spec.suffix) == "张三之印"
    assert seal.image.read() == render_seal(SquareSealSpec(LEGAL_REP, size_px=200))
    # 印 instead of 之印 on request: 张三印.
    params = {**seal.spec, "suffix": "印"}
    spec = seal_specs.build_spec(org, params)
    assert isinstance(spec, SquareSealSpec)
    assert square_seal_text(spec.name, spec.suffix) == "张三印"


@pytest.mark.parametrize(
    ("kind", "changes", "field", "message"),
    [
        ("custom", {"name": ""}, "name", "请输入印章名称"),
        ("contract", {"name": "一" * 17}, "name", "最多 16 个字"),
        ("contract", {"size_mm": "5"}, "size_mm", "不能小于"),
        ("contract", {"code_mode": "custom", "code": "12345"}, "code", "13 位数字"),
        ("contract", {"spacing_deg": "60"}, "spacing_deg", "字间距过大"),
        ("contract", {"name_font_mm": "19"}, "name_font_mm", "字号不能大于"),
        ("contract", {"shape": "square"}, "shape", "请选择印章形状"),
        ("finance", {"shape": "oval", "width_mm": "40", "height_mm": "45"}, "height_mm", "椭圆"),
    ],
)
def test_generator_refuses_bad_specifications_with_a_message(
    admin_client: Client,
    org: Organization,
    kind: str,
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = admin_client.post(url("seal-new", org), spec_post(org, kind, **changes))
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not Seal.objects.filter(org=org).exists()


def test_choosing_a_type_and_the_preview_button_without_script(
    admin_client: Client, org: Organization
) -> None:
    chooser = admin_client.get(url("seal-new", org))
    assert chooser.status_code == 200
    body = chooser.content.decode()
    for label in ("公章", "合同专用章", "财务专用章", "人事专用章", "法定代表人章", "其他印章"):
        assert label in body
    data = spec_post(org, "hr", size_mm="45", action="preview")
    response = admin_client.post(url("seal-new", org), data)
    assert response.status_code == 200
    assert "size_mm=45" in response.context["preview_url"]
    assert not Seal.objects.exists()


# --- the live preview endpoint ---


def test_preview_returns_a_png_that_follows_the_parameters(
    admin_client: Client, org: Organization
) -> None:
    first = admin_client.get(url("seal-preview", org), preview_query(org, "contract"))
    assert first.status_code == 200
    assert first["Content-Type"] == "image/png"
    assert "private" in first["Cache-Control"]
    assert png_size(first.content) == (400, 400)
    bigger = admin_client.get(url("seal-preview", org), preview_query(org, "contract", size_mm=48))
    assert png_size(bigger.content) == (480, 480)
    no_star = preview_query(org, "contract")
    no_star.pop("star")
    third = admin_client.get(url("seal-preview", org), no_star)
    assert third.status_code == 200 and third.content != first.content
    square = admin_client.get(url("seal-preview", org), preview_query(org, "legal_rep"))
    assert png_size(square.content) == (200, 200)
    assert not Seal.objects.exists()  # previews make nothing


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"kind": "nonsense"}, "请选择印章类型"),
        ({"size_mm": "9999"}, "不能大于"),
        ({"size_mm": "abc"}, "请输入数字"),
        ({"size_mm": ""}, "请输入印章尺寸"),
        ({"shape": "hexagon"}, "请选择印章形状"),
        ({"code_mode": "custom", "code": "12ab"}, "13 位数字"),
        ({"spacing_deg": "1"}, "不能小于"),
        ({"name_font_mm": "0.5"}, "不能小于"),
        ({"seal_text": "字" * 40}, "最多 16 个字"),
        ({"seal_text": "\U0001f600合同"}, "印章字体中没有字符"),
    ],
)
def test_preview_refuses_bad_parameters_with_400_and_a_message(
    admin_client: Client, org: Organization, params: dict[str, str], message: str
) -> None:
    query = {**preview_query(org, "contract"), **params}
    response = admin_client.get(url("seal-preview", org), query)
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False and message in body["message"], body
    assert response["Cache-Control"] == "no-store"


def test_preview_is_throttled(
    admin_client: Client, org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qianshu.orgs import seal_views

    monkeypatch.setattr(seal_views, "PREVIEWS_PER_USER", (2, 600))
    query = preview_query(org, "legal_rep")
    for _ in range(2):
        assert admin_client.get(url("seal-preview", org), query).status_code == 200
    refused = admin_client.get(url("seal-preview", org), query)
    assert refused.status_code == 429 and "频繁" in refused.json()["message"]


# --- 上传图片 ---


def _upload(client: Client, org: Organization, data: bytes, name: str = "seal.jpg") -> Any:
    file = io.BytesIO(data)
    file.name = name
    return client.post(url("seal-upload", org), {"image": file})


def test_photo_of_a_seal_is_cleaned_previewed_and_saved(
    admin_client: Client, org: Organization, admin: User
) -> None:
    response = _upload(admin_client, org, seal_photo_bytes())
    assert response.status_code == 200, response.content.decode()[:2000]
    assert response["Cache-Control"] == "no-store"
    data_url = re.search(r'src="data:image/png;base64,([^"]+)"', response.content.decode())
    assert data_url
    assert not Seal.objects.exists()  # nothing before 保存
    reference = response.context["form"].initial["reference"]

    saved = admin_client.post(
        url("seal-upload-save", org),
        {"reference": reference, "kind": "contract", "name": "合同专用章"},
    )
    assert saved.status_code == 302
    seal = Seal.objects.get(org=org)
    assert (seal.source, seal.kind, seal.name) == ("photo", "contract", "合同专用章")
    width, height = png_size(seal.image.read())
    assert 300 <= max(width, height) <= 500 and abs(width - height) < 60  # cropped to the ring
    with Image.open(io.BytesIO(seal.image.read())) as image:
        assert image.getpixel((0, 0))[3] == 0  # transparent outside the ring
        pixels = np.asarray(image)
        solid = pixels[pixels[..., 3] > 200]
        assert len(solid) > 1000  # the ring and the text
        assert (solid[:, 0] > 150).all() and (solid[:, 1] < 80).all() and (solid[:, 2] < 80).all()
    assert OrgEvent.objects.filter(org=org, action="seal_created", detail__source="photo").exists()
    cert = x509.load_der_x509_certificate(bytes(seal.certificate.certificate_der))
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ORG_NAME


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"MZ\x90\x00" + b"\x00" * 2000, "seal.png", "不是可识别的图片"),
        (b"%PDF-1.7\n" + b"x" * 500, "seal.jpg", "不是可识别的图片"),
        (b"", "seal.jpg", "文件为空"),
        ("white", "seal.png", "没有找到红色印章"),
        ("black-ring", "seal.jpg", "没有找到红色印章"),
        ("huge", "seal.jpg", "不能超过 10 MB"),
    ],
)
def test_photo_upload_errors_are_clear(
    admin_client: Client, org: Organization, data: Any, name: str, message: str
) -> None:
    if data == "white":
        out = io.BytesIO()
        Image.new("RGB", (600, 600), "white").save(out, format="PNG")
        data = out.getvalue()
    elif data == "black-ring":
        data = seal_photo_bytes(red=False)
    elif data == "huge":
        data = seal_photo_bytes() + b"\x00" * (10 * 1024 * 1024)
    response = _upload(admin_client, org, data, name)
    assert response.status_code == 400
    errors = " ".join(str(e) for e in response.context["form"].errors.get("image", []))
    assert message in errors, errors
    assert not Seal.objects.exists()


def test_staged_photo_reference_is_bound_to_the_admin_and_org(
    client: Client,
    org: Organization,
    admin: User,
    verified_person: Callable[..., User],
    verified_org: Callable[..., Organization],
) -> None:
    charlie = verified_person("charlie")
    other = verified_org(charlie, name="上海另一家有限公司")
    reference = seal_actions.do_stage_seal_photo(
        org, seals.prepare_seal_photo(seal_photo_bytes()), actor=admin, meta=TASK
    )
    client.force_login(charlie)
    response = client.post(
        url("seal-upload-save", other), {"reference": reference, "kind": "official", "name": "公章"}
    )
    assert response.status_code == 302 and response["Location"] == url("seal-upload", other)
    assert not Seal.objects.exists()
    with pytest.raises(SealError):
        seals.load_staged_seal_photo("forged", org=org, actor=admin)


# --- 停用 / 启用 / 销毁 ---


def test_a_disabled_seal_can_be_enabled_again(
    admin_client: Client, org: Organization, admin: User
) -> None:
    seal = make_seal(org, admin)
    assert admin_client.post(url("seal-disable", org, seal)).status_code == 302
    seal.refresh_from_db()
    assert seal.status == Seal.Status.DISABLED and not seal.is_usable
    with pytest.raises(SealError):
        seal_actions.do_disable_seal(seal, actor=admin, meta=TASK)
    assert admin_client.post(url("seal-enable", org, seal)).status_code == 302
    seal.refresh_from_db()
    assert seal.status == Seal.Status.ACTIVE
    actions = list(OrgEvent.objects.filter(org=org).order_by("id").values_list("action", flat=True))
    assert actions == ["seal_created", "seal_disabled", "seal_enabled"]
    assert seal.certificate.revoked_at is None


def _ocsp_status(client: Client, cert: x509.Certificate, issuer: x509.Certificate) -> Any:
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    response = client.post(
        "/pki/ocsp/issuing",
        data=request.public_bytes(Encoding.DER),
        content_type="application/ocsp-request",
    )
    assert response.status_code == 200
    answer = ocsp.load_der_ocsp_response(response.content)
    assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    return answer


def _crl(client: Client) -> x509.CertificateRevocationList:
    response = client.get("/pki/crl/issuing.crl")
    assert response.status_code == 200
    return x509.load_der_x509_crl(response.content)


def test_destroying_a_seal_revokes_its_certificate_for_good(
    admin_client: Client, org: Organization, admin: User
) -> None:
    seal = make_seal(org, admin)
    cert = x509.load_der_x509_certificate(bytes(seal.certificate.certificate_der))
    issuer = load_platform().pki.issuing.certificate
    anonymous = Client()
    assert _ocsp_status(anonymous, cert, issuer).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert _crl(anonymous).get_revoked_certificate_by_serial_number(cert.serial_number) is None

    page = admin_client.get(url("seal-destroy", org, seal))
    assert page.status_code == 200 and "销毁不可撤销" in page.content.decode()
    wrong = admin_client.post(url("seal-destroy", org, seal), {"confirm_name": "公章"})
    assert wrong.status_code == 400
    assert "不一致" in " ".join(wrong.context["form"].errors["confirm_name"])
    seal.refresh_from_db()
    assert seal.status == Seal.Status.ACTIVE

    done = admin_client.post(url("seal-destroy", org, seal), {"confirm_name": seal.name})
    assert done.status_code == 302
    seal.refresh_from_db()
    assert seal.status == Seal.Status.DESTROYED and seal.destroyed_at is not None
    issued = IssuedCertificate.objects.get(pk=seal.certificate_id)
    assert issued.revoked_at is not None
    assert issued.revocation_reason == IssuedCertificate.Reason.CESSATION_OF_OPERATION
    assert bytes(seal.key_reference) == b""  # the wrapped key is gone
    with pytest.raises(SealError):
        seal_signing_key(seal)

    entry = _crl(anonymous).get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    answer = _ocsp_status(anonymous, cert, issuer)
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason == x509.ReasonFlags.cessation_of_operation

    # Never usable again: no enabling, no second destruction; the image stays for the record.
    admin_client.post(url("seal-enable", org, seal))
    seal.refresh_from_db()
    assert seal.status == Seal.Status.DESTROYED
    with pytest.raises(SealError):
        seal_actions.do_enable_seal(seal, actor=admin, meta=TASK)
    with pytest.raises(SealError):
        seal_actions.do_destroy_seal(seal, actor=admin, meta=TASK)
    assert admin_client.get(url("seal-image", org, seal)).status_code == 200
    listing = admin_client.get(url("seals", org)).content.decode()
    assert "已销毁" in listing and 'data-status="destroyed"' in listing
    event = OrgEvent.objects.get(org=org, action="seal_destroyed")
    assert event.detail["serial"] == issued.serial_hex and event.actor == admin


def test_seal_count_is_capped(
    org: Organization, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seals, "MAX_SEALS_PER_ORG", 1)
    seal = make_seal(org, admin, kind="legal_rep")
    with pytest.raises(SealError, match="最多保留 1 枚"):
        make_seal(org, admin, kind="legal_rep")
    seal_actions.do_destroy_seal(seal, actor=admin, meta=TASK)
    make_seal(org, admin, kind="legal_rep")  # destroyed seals do not count


# --- who may do what ---


def test_members_who_are_not_admins_and_outsiders_get_404(
    client: Client,
    org: Organization,
    admin: User,
    verified_person: Callable[..., User],
    verified_org: Callable[..., Organization],
) -> None:
    seal = make_seal(org, admin)
    bob = verified_person("bob")
    add_member(org, bob, Membership.Role.SEAL_KEEPER)
    dave = verified_person("dave", "13800000004")
    add_member(org, dave, Membership.Role.MEMBER)
    charlie = verified_person("charlie")
    other = verified_org(charlie, name="上海另一家有限公司")

    admin_gets = [url(n, org) for n in ("seals", "seal-new", "seal-upload")]
    admin_gets += [url("seal-preview", org) + "?kind=contract&shape=round&size_mm=40"]
    admin_gets += [url(n, org, seal) for n in ("seal-certificate", "seal-destroy")]
    admin_posts = [url(n, org, seal) for n in ("seal-disable", "seal-enable", "seal-destroy")]
    admin_posts += [url("seal-new", org), url("seal-upload-save", org)]
    for user in (bob, dave):
        client.force_login(user)
        for target in admin_gets:
            assert client.get(target).status_code == 404, (user, target)
        for target in admin_posts:
            assert client.post(target, {"confirm_name": seal.name}).status_code == 404, target
        # Members see their organisation's seal images (grant and usage pages show them).
        image = client.get(url("seal-image", org, seal))
        assert image.status_code == 200 and image["Content-Type"] == "image/png"
        assert "private" in image["Cache-Control"]

    client.force_login(charlie)
    for target in [*admin_gets, url("seal-image", org, seal)]:
        assert client.get(target).status_code == 404, target
    for target in admin_posts:
        assert client.post(target, {"confirm_name": seal.name}).status_code == 404, target
    # Charlie's own organisation with Alice's seal id is no way in either.
    crossed = reverse("orgs:seal-image", args=[other.uuid, seal.uuid])
    assert client.get(crossed).status_code == 404
    assert (
        client.post(reverse("orgs:seal-disable", args=[other.uuid, seal.uuid])).status_code == 404
    )

    client.logout()
    assert client.get(url("seal-image", org, seal)).status_code == 302  # to the login page
    seal.refresh_from_db()
    assert seal.status == Seal.Status.ACTIVE
    assert not OrgEvent.objects.exclude(action="seal_created").exists()


def test_unverified_organisation_gets_a_message_linking_to_verification(
    client: Client, pki: None, admin: User, verified_org: Callable[..., Organization]
) -> None:
    draft = verified_org(admin, name="待认证有限公司", status=Organization.Status.DRAFT)
    client.force_login(admin)
    listing = client.get(url("seals", draft))
    assert listing.status_code == 200
    assert "组织机构认证通过后才能制作和管理印章" in listing.content.decode()
    assert client.get(url("seal-new", draft), {"kind": "contract"}).status_code == 403
    assert client.get(url("seal-upload", draft)).status_code == 403
    preview = client.get(url("seal-preview", draft), preview_query(draft, "contract"))
    assert preview.status_code == 403 and "认证通过后" in preview.json()["message"]
    with pytest.raises(SealError):
        make_seal(draft, admin)
    assert not Seal.objects.exists()


# --- PKCS#11 key store (SoftHSM2) ---

SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"


@pytest.fixture(scope="module")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A SoftHSM2 token for the PKCS#11 key store.

    The PKCS#11 library is loaded once per process and a token allows one login per process,
    so this uses the same token label and PIN as tests/signing/test_keys.py (whichever module
    loads the library first, both find a matching token) and logs out when done.
    """
    if not (Path(SOFTHSM_LIB).exists() and shutil.which("softhsm2-util")):
        pytest.fail("SoftHSM2 is not installed (make test installs the softhsm2 package)")
    root = tmp_path_factory.mktemp("softhsm-seals")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            "qianshu-test",
            "--pin",
            "1234",
            "--so-pin",
            "123456",
        ],
        check=True,
        capture_output=True,
    )
    token = {"lib": SOFTHSM_LIB, "token": "qianshu-test", "pin": "1234"}
    yield token
    with override_settings(QIANSHU_PKCS11=token):
        keystores.pkcs11_key_store().close()
    keystores._pkcs11.cache_clear()


def test_seal_key_in_a_pkcs11_token(
    org: Organization, admin: User, settings: Any, softhsm_token: dict[str, str]
) -> None:
    settings.QIANSHU_KEYSTORE = "pkcs11"
    settings.QIANSHU_PKCS11 = softhsm_token
    seal = make_seal(org, admin)
    assert seal.key_store == "pkcs11" and len(bytes(seal.key_reference)) == 16
    cert = x509.load_der_x509_certificate(bytes(seal.certificate.certificate_der))
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(seal_signing_key(seal).sign(b"abc"), b"abc", ec.ECDSA(hashes.SHA256()))
    seal_actions.do_destroy_seal(seal, actor=admin, meta=TASK)
    assert IssuedCertificate.objects.get(pk=seal.certificate_id).revoked_at is not None
