"""get_blob_store() and the storage system checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from pytest_django.fixtures import Settings

from qianshu.storage.blobs import get_blob_store
from qianshu.storage.local import LocalBlobStore
from qianshu.storage.s3 import S3BlobStore
from tests.storage.conftest import S3Server


def storage_check_ids() -> list[str]:
    return [m.id for m in run_checks() if m.id and m.id.startswith("qianshu.storage.")]


def test_local_store_from_settings(settings: Settings, tmp_path: Path) -> None:
    settings.QIANSHU_STORAGE = "local"
    settings.QIANSHU_STORAGE_DIR = tmp_path / "one"

    store = get_blob_store()

    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path / "one"
    assert get_blob_store() is store
    sha256 = store.put(b"configured")
    assert (tmp_path / "one" / sha256[:2] / sha256[2:4] / sha256).is_file()


def test_store_follows_overridden_settings(settings: Settings, tmp_path: Path) -> None:
    settings.QIANSHU_STORAGE = "local"
    settings.QIANSHU_STORAGE_DIR = tmp_path / "one"
    first = get_blob_store()
    assert isinstance(first, LocalBlobStore)

    with override_settings(QIANSHU_STORAGE_DIR=tmp_path / "two"):
        inner = get_blob_store()
        assert isinstance(inner, LocalBlobStore)
        assert inner.root == tmp_path / "two"

    again = get_blob_store()
    assert isinstance(again, LocalBlobStore)
    assert again.root == tmp_path / "one"
    assert again is not inner
    assert first.root == again.root


def test_s3_store_from_settings(settings: Settings, s3_server: S3Server, s3_location: str) -> None:
    settings.QIANSHU_STORAGE = "s3"
    settings.QIANSHU_S3 = s3_server.settings(s3_location)

    store = get_blob_store()

    assert isinstance(store, S3BlobStore)
    assert get_blob_store() is store
    sha256 = store.put(b"in the bucket")
    assert store.get(sha256) == b"in the bucket"
    assert store.key(sha256).startswith(f"{s3_location}/")
    assert storage_check_ids() == []


def test_unknown_backend(settings: Settings) -> None:
    settings.QIANSHU_STORAGE = "ftp"

    with pytest.raises(ImproperlyConfigured):
        get_blob_store()
    assert storage_check_ids() == ["qianshu.storage.E001"]


def test_s3_without_bucket(settings: Settings) -> None:
    settings.QIANSHU_STORAGE = "s3"
    settings.QIANSHU_S3 = {**settings.QIANSHU_S3, "bucket_name": ""}

    with pytest.raises(ImproperlyConfigured):
        get_blob_store()
    assert storage_check_ids() == ["qianshu.storage.E002"]


def test_s3_with_unknown_option(settings: Settings, s3_server: S3Server) -> None:
    settings.QIANSHU_STORAGE = "s3"
    settings.QIANSHU_S3 = {**s3_server.settings("x"), "colour": "blue"}

    with pytest.raises(ImproperlyConfigured):
        get_blob_store()
