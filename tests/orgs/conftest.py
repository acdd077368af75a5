"""Shared fixtures of the organisation tests (verification, members, seals, grants).

Other org test modules use these directly (pytest finds them through this conftest):

- ``pki``: the platform PKI (``do_init_pki``), needed for seal certificates;
- ``blob_dir``: blobs in a per-test temporary directory (autouse here, like the settings below);
- ``alice``, ``bob``, ``charlie``, ``operator``: plain accounts (personas, operator is staff);
- ``verified_person`` / ``verified_org``: the persona factories of
  :mod:`tests.support.personas` as fixtures;
- ``licence_png()`` / ``licence_pdf(pad=0)`` (plain functions): licence files that pass the checks;
- ``gateway``: a signed-JSON gateway on loopback (``tests/support/gateways.py``);
- ``client_for(user, reauth=True)`` (plain function): a test client logged in as ``user``, by
  default freshly re-authenticated (organisation admin actions that hand out or remove power
  ask for it; ``reauth=False`` gives a stale session).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from django.test import Client
from PIL import Image, ImageDraw

from qianshu.accounts.models import User
from qianshu.orgs.models import Organization
from qianshu.pki.actions import do_init_pki
from qianshu.storage.blobs import reset_blob_store_cache
from tests.identity.helpers import logged_in
from tests.support.accounts import make_user
from tests.support.gateways import Gateway, running_gateway
from tests.support.personas import make_verified_org, make_verified_person


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


@pytest.fixture
def verified_person(db: Any) -> Callable[..., User]:
    return make_verified_person


@pytest.fixture
def verified_org(db: Any) -> Callable[..., Organization]:
    return make_verified_org
