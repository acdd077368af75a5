"""S3-compatible blob store (AWS S3, MinIO, Ceph RGW, …) on django-storages' ``S3Storage``.

Kept apart from ``blobs.py`` so that a local-only installation never imports boto3.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any, BinaryIO

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from storages.backends.s3 import S3Storage

from qianshu.storage.base import (
    BlobStore,
    fan_out,
    validate_blob_id,
    verify_content,
    verifying_stream,
)
from qianshu.storage.errors import BlobNotFound, BlobStoreError

__all__ = ["S3BlobStore"]

CONTENT_TYPE = "application/octet-stream"
# A conditional PUT racing another one on the same key gets 409 from AWS; the other one
# usually wins within milliseconds.
_CONFLICT_RETRIES = 5
_CONFLICT_DELAY = 0.2
_BACKEND_ERRORS = (BotoCoreError, ClientError)


def _status(exc: ClientError) -> int | None:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def _is_missing(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code")
    return _status(exc) == 404 or code in {"NoSuchKey", "404", "NotFound"}


class S3BlobStore(BlobStore):
    """Blobs as objects ``<location>/ab/cd/<sha256>`` in one bucket.

    ``put`` sends a HEAD first and uploads only when the object is missing, with
    ``If-None-Match: *`` so that the server itself refuses to overwrite an object (servers that
    ignore the header can only be made to replace it with identical bytes). Uploads carry
    ``Content-MD5`` and, unless ``checksum_sha256`` is off (for S3-compatible servers that reject
    ``x-amz-checksum-*`` headers), ``x-amz-checksum-sha256``: the server verifies the bytes it
    receives against the blob id. Objects are always ``application/octet-stream``: the same bytes
    may be used under several content types, which the ``Blob`` row records.

    Note: on AWS, HEAD on a missing key gives 403 instead of 404 unless the credentials may
    ``s3:ListBucket``; grant it, or every put of a new blob fails.
    """

    def __init__(
        self,
        *,
        bucket_name: str,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        location: str = "blobs",
        checksum_sha256: bool = True,
        client_config: Config | None = None,
    ) -> None:
        self.bucket_name = bucket_name
        self.location = (location or "").strip("/")
        self.checksum_sha256 = checksum_sha256
        # file_overwrite=True only stops django-storages from renaming on name clashes: this class
        # never calls ``save``, and guards every upload with HEAD and If-None-Match.
        self.storage = S3Storage(
            bucket_name=bucket_name,
            endpoint_url=endpoint_url,
            region_name=region_name,
            access_key=access_key,
            secret_key=secret_key,
            location=self.location,
            file_overwrite=True,
            default_acl=None,
            gzip=False,
            querystring_auth=True,
            object_parameters={"ContentType": CONTENT_TYPE},
            client_config=client_config,
        )

    def __repr__(self) -> str:
        endpoint = self.storage.endpoint_url or "aws"
        return f"S3BlobStore({endpoint!r}, bucket={self.bucket_name!r}, location={self.location!r})"

    def key(self, sha256: str) -> str:
        """The object key of a blob."""
        name = fan_out(validate_blob_id(sha256))
        return f"{self.location}/{name}" if self.location else name

    @property
    def _client(self) -> Any:
        # S3Storage keeps one boto3 resource per thread; its client is thread-safe to use here.
        return self.storage.connection.meta.client

    def put(self, data: bytes) -> str:
        sha256, digest = self._put_data(data)
        if self.exists(sha256):
            return sha256
        params: dict[str, Any] = {
            "Bucket": self.bucket_name,
            "Key": self.key(sha256),
            "Body": data,
            "ContentType": CONTENT_TYPE,
            "ContentMD5": base64.b64encode(
                hashlib.md5(data, usedforsecurity=False).digest()
            ).decode(),
            "IfNoneMatch": "*",
        }
        if self.checksum_sha256:
            params["ChecksumSHA256"] = base64.b64encode(digest).decode()
        for attempt in range(_CONFLICT_RETRIES + 1):
            try:
                self._client.put_object(**params)
                return sha256
            except ClientError as exc:
                status = _status(exc)
                if status == 412:
                    return sha256  # Stored meanwhile by another writer: same id, same bytes.
                if status == 409 and attempt < _CONFLICT_RETRIES:
                    time.sleep(_CONFLICT_DELAY)
                    if self.exists(sha256):
                        return sha256
                    continue
                raise BlobStoreError(f"cannot store blob {sha256}: {exc}") from exc
            except BotoCoreError as exc:
                raise BlobStoreError(f"cannot store blob {sha256}: {exc}") from exc
        raise BlobStoreError(f"cannot store blob {sha256}: concurrent writes kept conflicting")

    def get(self, sha256: str) -> bytes:
        body = self._get_body(sha256)
        try:
            data: bytes = body.read()
        except _BACKEND_ERRORS as exc:
            raise BlobStoreError(f"cannot read blob {sha256}: {exc}") from exc
        finally:
            body.close()
        return verify_content(sha256, data)

    def exists(self, sha256: str) -> bool:
        name = fan_out(validate_blob_id(sha256))
        try:
            return bool(self.storage.exists(name))
        except _BACKEND_ERRORS as exc:
            raise BlobStoreError(f"cannot look up blob {sha256}: {exc}") from exc

    def size(self, sha256: str) -> int:
        name = fan_out(validate_blob_id(sha256))
        try:
            return int(self.storage.size(name))
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None
        except ClientError as exc:
            if _is_missing(exc):
                raise BlobNotFound(sha256) from None
            raise BlobStoreError(f"cannot look up blob {sha256}: {exc}") from exc
        except BotoCoreError as exc:
            raise BlobStoreError(f"cannot look up blob {sha256}: {exc}") from exc

    def delete(self, sha256: str) -> None:
        try:
            self._client.delete_object(Bucket=self.bucket_name, Key=self.key(sha256))
        except _BACKEND_ERRORS as exc:
            raise BlobStoreError(f"cannot delete blob {sha256}: {exc}") from exc

    def open_stream(self, sha256: str) -> BinaryIO:
        return verifying_stream(self._get_body(sha256), sha256, wrap_errors=_BACKEND_ERRORS)

    def _get_body(self, sha256: str) -> Any:
        key = self.key(sha256)
        try:
            response = self._client.get_object(Bucket=self.bucket_name, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                raise BlobNotFound(sha256) from None
            raise BlobStoreError(f"cannot read blob {sha256}: {exc}") from exc
        except BotoCoreError as exc:
            raise BlobStoreError(f"cannot read blob {sha256}: {exc}") from exc
        return response["Body"]
