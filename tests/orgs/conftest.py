"""Shared fixtures of the organisation tests (verification, members, seals, grants).

Other org test modules use these directly (pytest finds them through this conftest):

- ``pki``: the platform PKI (``do_init_pki``), needed for seal certificates;
- ``blob_dir``: blobs in a per-test temporary directory (autouse here, like the settings below);
- ``alice``, ``bob``, ``charlie``, ``operator``: plain accounts (personas, operator is staff);
- ``verified_person(name, phone=None, *, real_name=None)``: a user with a verified
  ``PersonIdentity``;
- ``verified_org(admin, name=…, credit_code=…, …)``: a VERIFIED ``Organization`` with ``admin``
  as its 管理员, written straight to the database;
- ``valid_credit_code(body=None)`` (plain function): an 18-character code passing GB 32100;
- ``licence_png()`` / ``licence_pdf(pad=0)`` (plain functions): licence files that pass the checks;
- ``gateway``: a signed-JSON gateway on loopback (``tests/support/gateways.py``);
- ``client_for(user, reauth=True)`` (plain function): a test client logged in as ``user``, by
  default freshly re-authenticated (organisation admin actions that hand out or remove power
  ask for it; ``reauth=False`` gives a stale session).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image, ImageDraw

from qianshu.accounts.models import User
from qianshu.identity import crypto
from qianshu.identity.models import Method, PersonIdentity
from qianshu.orgs.models import Membership, Organization
from qianshu.pki.actions import do_init_pki
from qianshu.storage.actions import do_store_blob
from qianshu.storage.blobs import reset_blob_store_cache
from tests.identity.helpers import logged_in
from tests.support.accounts import PERSONAS, make_user
from tests.support.gateways import Gateway, running_gateway

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_counter = itertools.count(1)

# Verified real names of the personas when ``verified_person("alice")`` is called without one.
PERSONA_REAL_NAMES = {"alice": "王爱丽", "bob": "李博文", "charlie": "张查理"}


def valid_credit_code(body: str | None = None) -> str:
    """A unified social credit code with a correct GB 32100 check character (computed here,
    independently of ``qianshu.signing.pki``). ``body`` is the first 17 characters; by default
    a fresh one per call (an enterprise registered in Beijing)."""
    if body is None:
        body = f"9111010{next(_counter):010d}"
    body = body.upper()
    assert len(body) == 17, body
    total = sum(_ALPHABET.index(c) * w for c, w in zip(body, _WEIGHTS, strict=True))
    return body + _ALPHABET[(31 - total % 31) % 31]


def licence_png(size: tuple[int, int] = (600, 420)) -> bytes:
    """A small picture standing for a scanned 营业执照 (PNG)."""
    image = Image.new("RGB", size, (250, 246, 236))
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, size[0] - 10, size[1] - 10), outline=(180, 30, 30), width=6)
    for y in range(80, size[1] - 40, 40):
        draw.line((60, y, size[0] - 60, y), fill=(60, 60, 60), width=3)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def licence_pdf(pad: int = 0) -> bytes:
    """A one-page A4 PDF (optionally padded with an uncompressed stream of ``pad`` bytes)."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    if pad:
        pdf.Root.Padding = pikepdf.Stream(pdf, b"0" * pad)
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def client_for(user: User, *, reauth: bool = True) -> Client:
    """A client logged in as ``user``; ``reauth``: re-authenticated just now."""
    return logged_in(user, reauth=reauth)


def resident_id(seq: int) -> str:
    body = f"11010119800101{seq % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


@pytest.fixture(autouse=True)
def blob_dir(settings: Any, tmp_path: Path) -> Path:
    """Blobs (licences, seal images) in a directory of this test; sandbox providers allowed."""
    path = tmp_path / "blobs"
    settings.QIANSHU_STORAGE = "local"
    settings.QIANSHU_STORAGE_DIR = path
    settings.QIANSHU_OUTBOX_KEEP_SENSITIVE = True
    settings.QIANSHU_IDENTITY_PROVIDER = "sandbox"
    settings.QIANSHU_IDENTITY_SANDBOX_ALLOWED = True
    settings.QIANSHU_BANK_PROVIDER = "sandbox"
    settings.QIANSHU_BANK_SANDBOX_ALLOWED = True
    settings.QIANSHU_REGISTRY_PROVIDER = "sandbox"
    settings.QIANSHU_REGISTRY_SANDBOX_ALLOWED = True
    reset_blob_store_cache()
    return path


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with running_gateway() as state:
        yield state


@pytest.fixture
def pki(db: Any) -> None:
    do_init_pki(name="测试平台")


@pytest.fixture
def alice(db: Any) -> User:
    return make_user("alice")


@pytest.fixture
def bob(db: Any) -> User:
    return make_user("bob")


@pytest.fixture
def charlie(db: Any) -> User:
    return make_user("charlie")


@pytest.fixture
def operator(db: Any) -> User:
    return make_user("operator", phone="13900000009", is_staff=True)


def make_verified_person(
    name: str, phone: str | None = None, *, real_name: str | None = None
) -> User:
    """A user with a verified PersonIdentity.

    ``verified_person("alice")``: the persona's account (created, or reused if the ``alice``
    fixture made it), verified as ``PERSONA_REAL_NAMES["alice"]``.
    ``verified_person("张伟", "13800000011")``: an account with that phone, verified as 张伟.
    ``real_name`` overrides the verified name in both forms.
    """
    if phone is None:
        phone = PERSONAS[name]
    if real_name is None:
        real_name = PERSONA_REAL_NAMES.get(name, name)
    user = User.objects.filter(phone=phone).first() or make_user(name, phone=phone)
    number = resident_id(next(_counter))
    PersonIdentity.objects.create(
        user=user,
        id_type="resident_id",
        name=real_name,
        number_encrypted=crypto.encrypt(number, user_id=user.pk),
        number_hmac=crypto.number_hmac("resident_id", number),
        number_masked=number[:3] + "*" * 13 + number[-2:],
        method=Method.PHONE3,
    )
    return user


@pytest.fixture
def verified_person(db: Any) -> Callable[..., User]:
    return make_verified_person


def make_verified_org(
    admin: User,
    *,
    name: str = "北京测试科技有限公司",
    credit_code: str | None = None,
    legal_rep_name: str = "王爱丽",
    kind: str = Organization.Kind.ENTERPRISE,
    registration_number: str = "",
    status: str = Organization.Status.VERIFIED,
    licence: bytes | None = None,
) -> Organization:
    """An organisation (VERIFIED by default, method 人工审核) with ``admin`` as 管理员;
    ``licence``: PNG bytes stored as its 营业执照 (needs the blob store: ``blob_dir``)."""
    if credit_code is None:
        credit_code = "" if kind == Organization.Kind.OVERSEAS else valid_credit_code()
    verified = status == Organization.Status.VERIFIED
    org = Organization.objects.create(
        kind=kind,
        name=name,
        credit_code=credit_code,
        registration_number=registration_number,
        legal_rep_name=legal_rep_name,
        status=status,
        method=Organization.Method.OPERATOR if verified else "",
        created_by=admin,
        created_at=timezone.now() - dt.timedelta(days=1),
        verified_at=timezone.now() if verified else None,
        licence=do_store_blob(licence, content_type="image/png") if licence else None,
    )
    Membership.objects.create(org=org, user=admin, role=Membership.Role.ADMIN)
    return org


@pytest.fixture
def verified_org(db: Any) -> Callable[..., Organization]:
    return make_verified_org
