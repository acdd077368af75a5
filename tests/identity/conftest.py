"""Fixtures of the identity tests: personas, a blob directory per test, the platform PKI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qianshu.accounts.models import User
from qianshu.pki.actions import do_init_pki
from tests.support.accounts import make_user


@pytest.fixture(autouse=True)
def identity_settings(settings: Any, tmp_path: Path) -> Any:
    settings.QIANSHU_STORAGE = "local"
    settings.QIANSHU_STORAGE_DIR = tmp_path / "blobs"
    settings.QIANSHU_OUTBOX_KEEP_SENSITIVE = True
    settings.QIANSHU_IDENTITY_PROVIDER = "sandbox"
    settings.QIANSHU_IDENTITY_SANDBOX_ALLOWED = True
    return settings


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
def platform_pki(db: Any) -> None:
    do_init_pki(name="测试平台")
