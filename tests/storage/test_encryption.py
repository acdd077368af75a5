"""Encryption at rest: the store (a directory or S3) only ever holds ciphertext, reading through
the row gives the plaintext back, anything else fails cleanly; local files are owner-only."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings

from qianshu.storage import encryption
from qianshu.storage.actions import do_delete_blob, do_store_blob, do_store_encrypted_blob
from qianshu.storage.blobs import get_blob_store
from qianshu.storage.errors import BlobDecryptionError
from qianshu.storage.local import LocalBlobStore
from qianshu.storage.models import Blob
from tests.storage.conftest import S3Server

pytestmark = pytest.mark.django_db

MARKER = b"ID-PHOTO-MARKER-110101198001010015"
PHOTO = b"\x89PNG\r\n\x1a\n" + MARKER * 50


def stored_bytes(blob: Blob) -> bytes:
    """What the configured store holds for the blob, read behind the row's back."""
    return get_blob_store().get(blob.sha256)


def test_only_ciphertext_reaches_the_store(configured_store: str) -> None:
    blob = do_store_encrypted_blob(
        PHOTO, content_type="image/png", purpose=encryption.IDENTITY_PHOTO
    )

    at_rest = stored_bytes(blob)
    assert MARKER not in at_rest and b"\x89PNG" not in at_rest
    assert at_rest.startswith(encryption.MAGIC)
    assert blob.size == len(at_rest) and blob.is_encrypted
    row = Blob.objects.get(pk=blob.pk)
    assert row.encryption_purpose == encryption.IDENTITY_PHOTO
    assert row.read() == PHOTO
    with row.open_stream() as stream:
        assert stream.read() == PHOTO


def test_the_s3_bucket_holds_only_ciphertext(
    settings: Settings, s3_server: S3Server, s3_location: str
) -> None:
    settings.QIANSHU_STORAGE = "s3"
    settings.QIANSHU_S3 = s3_server.settings(s3_location)
    blob = do_store_encrypted_blob(PHOTO, content_type="image/png", purpose=encryption.ORG_LICENCE)

    client = s3_server.client()
    listing = client.list_objects_v2(Bucket=s3_server.bucket_name, Prefix=s3_location + "/")
    keys = [obj["Key"] for obj in listing["Contents"]]
    assert keys == [f"{s3_location}/{blob.sha256[:2]}/{blob.sha256[2:4]}/{blob.sha256}"]
    body = client.get_object(Bucket=s3_server.bucket_name, Key=keys[0])["Body"].read()
    assert MARKER not in body and b"\x89PNG" not in body
    assert Blob.objects.get().read() == PHOTO


def test_each_upload_is_a_blob_of_its_own(configured_store: str) -> None:
    first = do_store_encrypted_blob(PHOTO, content_type="image/png", purpose="identity-photo")
    second = do_store_encrypted_blob(PHOTO, content_type="image/png", purpose="identity-photo")

    assert first.pk != second.pk  # random nonces: equal photos are not recognisable at rest
    assert first.read() == second.read() == PHOTO


def test_a_wrong_master_key_fails_cleanly(configured_store: str, settings: Settings) -> None:
    blob = do_store_encrypted_blob(PHOTO, content_type="image/png", purpose="identity-photo")
    settings.MASTER_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()

    with pytest.raises(BlobDecryptionError, match="wrong master key"):
        Blob.objects.get(pk=blob.pk).read()


def test_an_edited_row_does_not_decrypt(configured_store: str) -> None:
    blob = do_store_encrypted_blob(PHOTO, content_type="image/png", purpose="identity-photo")

    # An operator with database access relabels the photo as HTML, or as a licence.
    Blob.objects.filter(pk=blob.pk).update(content_type="text/html")
    with pytest.raises(BlobDecryptionError):
        Blob.objects.get(pk=blob.pk).read()
    Blob.objects.filter(pk=blob.pk).update(content_type="image/png", encryption_purpose="")
    assert MARKER not in Blob.objects.get(pk=blob.pk).read()  # ciphertext, not the photo
    Blob.objects.filter(pk=blob.pk).update(encryption_purpose=encryption.ORG_LICENCE)
    with pytest.raises(BlobDecryptionError):
        Blob.objects.get(pk=blob.pk).read()


def test_plaintext_is_refused_as_ciphertext() -> None:
    with pytest.raises(BlobDecryptionError, match="not an encrypted blob"):
        encryption.decrypt(PHOTO, purpose="identity-photo", content_type="image/png")
    with pytest.raises(ValueError, match="unknown purpose"):
        encryption.encrypt(PHOTO, purpose="anything", content_type="image/png")


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277])
def test_local_files_are_owner_only_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    store = LocalBlobStore(tmp_path / "data" / "blobs")
    previous = os.umask(umask)
    try:
        sha256 = store.put(b"secret scan")
    finally:
        os.umask(previous)

    path = store.path(sha256)
    assert stat.S_IMODE(path.stat().st_mode) == 0o400
    for directory in (store.root, path.parent.parent, path.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert store.get(sha256) == b"secret scan"


def test_restrict_permissions_fixes_an_old_store(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    sha256 = store.put(b"written by an older version")
    path = store.path(sha256)
    path.chmod(0o444)
    path.parent.chmod(0o755)
    store.root.chmod(0o755)

    assert store.restrict_permissions() == 3
    assert stat.S_IMODE(path.stat().st_mode) == 0o400
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert store.restrict_permissions() == 0


def test_delete_only_removes_unreferenced_blobs(configured_store: str) -> None:
    from qianshu.orgs.models import Organization
    from tests.support.accounts import make_user

    kept = do_store_blob(b"a licence someone uses", content_type="image/png")
    Organization.objects.create(
        kind="enterprise", name="某公司", legal_rep_name="某人", licence=kept,
        created_by=make_user("alice"),
    )  # fmt: skip
    unused = do_store_blob(b"nobody uses this", content_type="image/png")

    assert do_delete_blob(kept.sha256) is False
    assert do_delete_blob(unused.sha256) is True
    assert get_blob_store().exists(kept.sha256) and not get_blob_store().exists(unused.sha256)
    assert list(Blob.objects.values_list("sha256", flat=True)) == [kept.sha256]
    assert do_delete_blob(unused.sha256) is False  # already gone
