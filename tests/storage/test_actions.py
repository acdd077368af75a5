"""do_store_blob: blob in the store first, then its row."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings

from qianshu.storage.actions import do_store_blob
from qianshu.storage.blobs import get_blob_store
from qianshu.storage.errors import BlobCorrupted, BlobStoreError
from qianshu.storage.models import Blob
from tests.storage.conftest import _free_port

pytestmark = pytest.mark.django_db


def test_store_blob_writes_blob_and_row(configured_store: str) -> None:
    data = b"%PDF-1.7 evaluation form"

    blob = do_store_blob(data, content_type="application/pdf")

    assert blob.sha256 == hashlib.sha256(data).hexdigest()
    row = Blob.objects.get()
    assert (row.sha256, row.size, row.content_type) == (blob.sha256, len(data), "application/pdf")
    assert row.created_at is not None
    assert get_blob_store().get(row.sha256) == data
    assert row.read() == data
    with row.open_stream() as stream:
        assert stream.read() == data


def test_a_new_blob_comes_back_as_a_saved_row(configured_store: str) -> None:
    """As ``save()`` leaves it: a many-to-many ``add`` (the 鉴证 feedback files of a paper
    agreement) refuses a row that is on no database."""
    blob = do_store_blob(b"new bytes", content_type="application/pdf")
    again = do_store_blob(b"new bytes", content_type="application/pdf")

    for row in (blob, again):
        assert not row._state.adding
        assert row._state.db == "default"


def test_store_blob_is_idempotent(configured_store: str) -> None:
    first = do_store_blob(b"same", content_type="application/pdf")
    second = do_store_blob(b"same", content_type="application/octet-stream")

    assert second.pk == first.pk
    assert Blob.objects.count() == 1
    # The first content type stays.
    assert Blob.objects.get().content_type == "application/pdf"


def test_different_data_different_rows(configured_store: str) -> None:
    do_store_blob(b"one", content_type="image/png")
    do_store_blob(b"two", content_type="image/png")

    assert Blob.objects.count() == 2
    assert sorted(Blob.objects.values_list("size", flat=True)) == [3, 3]


def test_no_row_when_the_store_fails(settings: Settings, tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    root.write_bytes(b"not a directory")
    settings.QIANSHU_STORAGE = "local"
    settings.QIANSHU_STORAGE_DIR = root

    with pytest.raises(BlobStoreError):
        do_store_blob(b"data", content_type="application/pdf")
    assert not Blob.objects.exists()


def test_no_row_when_s3_is_unreachable(settings: Settings) -> None:
    settings.QIANSHU_STORAGE = "s3"
    settings.QIANSHU_S3 = {
        "bucket_name": "qianshu",
        "endpoint_url": f"http://127.0.0.1:{_free_port()}",
        "region_name": "us-east-1",
        "access_key": "key",
        "secret_key": "secret",
        "location": "blobs",
    }

    with pytest.raises(BlobStoreError):
        do_store_blob(b"data", content_type="application/pdf")
    assert not Blob.objects.exists()


def test_read_detects_corruption(settings: Settings, tmp_path: Path) -> None:
    settings.QIANSHU_STORAGE = "local"
    settings.QIANSHU_STORAGE_DIR = tmp_path / "blobs"
    blob = do_store_blob(b"signed revision", content_type="application/pdf")
    path = tmp_path / "blobs" / blob.sha256[:2] / blob.sha256[2:4] / blob.sha256
    path.chmod(0o644)
    path.write_bytes(b"tampered revision")

    with pytest.raises(BlobCorrupted):
        blob.read()


@pytest.mark.parametrize("content_type", ["", "x" * 256])
def test_content_type_is_checked(configured_store: str, content_type: str) -> None:
    with pytest.raises(ValueError):
        do_store_blob(b"data", content_type=content_type)
    assert not Blob.objects.exists()
