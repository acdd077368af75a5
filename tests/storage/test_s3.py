"""S3BlobStore specifics, against the moto server: key layout, object metadata, failures."""

from __future__ import annotations

import base64
import hashlib

import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.config import Config

from qianshu.storage.errors import BlobNotFound, BlobStoreError
from qianshu.storage.s3 import S3BlobStore
from tests.storage.conftest import S3Server, _free_port


def test_key_layout_and_metadata(s3_store: S3BlobStore, s3_server: S3Server) -> None:
    data = b"%PDF-1.7 object"

    sha256 = s3_store.put(data)

    key = f"{s3_store.location}/{sha256[:2]}/{sha256[2:4]}/{sha256}"
    assert s3_store.key(sha256) == key
    head = s3_server.client().head_object(Bucket=s3_server.bucket_name, Key=key)
    assert head["ContentType"] == "application/octet-stream"
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"') == hashlib.md5(data).hexdigest()


def test_empty_location(s3_server: S3Server) -> None:
    store = S3BlobStore(**{**s3_server.settings(""), "location": ""})

    sha256 = store.put(b"at the bucket root")

    assert store.key(sha256) == f"{sha256[:2]}/{sha256[2:4]}/{sha256}"
    assert store.get(sha256) == b"at the bucket root"


def test_put_does_not_overwrite_an_object_written_meanwhile(
    s3_store: S3BlobStore, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If another writer stores the object between our HEAD and PUT, the server refuses ours
    (If-None-Match) and put still succeeds without replacing it."""
    data = b"raced"
    sha256 = hashlib.sha256(data).hexdigest()
    s3_server.client().put_object(
        Bucket=s3_server.bucket_name, Key=s3_store.key(sha256), Body=b"first writer's object"
    )
    monkeypatch.setattr(s3_store, "exists", lambda sha256: False)

    assert s3_store.put(data) == sha256

    body = s3_server.client().get_object(Bucket=s3_server.bucket_name, Key=s3_store.key(sha256))
    assert body["Body"].read() == b"first writer's object"


def test_without_sha256_checksum(s3_server: S3Server, s3_location: str) -> None:
    store = S3BlobStore(**s3_server.settings(s3_location), checksum_sha256=False)

    sha256 = store.put(b"md5 only")

    assert store.get(sha256) == b"md5 only"


def test_missing_bucket(s3_server: S3Server, s3_location: str) -> None:
    store = S3BlobStore(**{**s3_server.settings(s3_location), "bucket_name": "no-such-bucket"})

    with pytest.raises(BlobStoreError) as excinfo:
        store.put(b"data")
    assert not isinstance(excinfo.value, BlobNotFound)


def test_unreachable_server() -> None:
    store = S3BlobStore(
        bucket_name="qianshu",
        endpoint_url=f"http://127.0.0.1:{_free_port()}",
        region_name="us-east-1",
        access_key="key",
        secret_key="secret",
        client_config=Config(connect_timeout=2, retries={"total_max_attempts": 1}),
    )
    sha256 = hashlib.sha256(b"data").hexdigest()

    for call in (lambda: store.put(b"data"), lambda: store.get(sha256), lambda: store.size(sha256)):
        with pytest.raises(BlobStoreError):
            call()
    with pytest.raises(BlobStoreError):
        store.exists(sha256)


def test_checksum_header_is_the_blob_id(s3_store: S3BlobStore, s3_server: S3Server) -> None:
    """The upload carries x-amz-checksum-sha256 = the blob id, for the server to verify."""
    sent: list[str] = []
    client = s3_store._client

    def record(request: AWSPreparedRequest, **kwargs: object) -> None:
        value = request.headers.get("x-amz-checksum-sha256", b"")
        sent.append(value.decode() if isinstance(value, bytes) else value)

    client.meta.events.register("before-send.s3.PutObject", record)
    try:
        sha256 = s3_store.put(b"checked by the server")
    finally:
        client.meta.events.unregister("before-send.s3.PutObject", record)

    assert sent == [base64.b64encode(bytes.fromhex(sha256)).decode()]
