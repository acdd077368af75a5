"""The blob store's interface: content-addressed, immutable blobs.

A blob is identified by the lowercase hex SHA-256 of its bytes. Blobs are written once and never
changed; the only deletion is of a blob nothing refers to any more (``delete``, used when a
plaintext blob is replaced by its encrypted copy), and every full read checks the bytes against the
id, so damage or tampering at rest is detected.

Backends: ``qianshu.storage.local`` (a directory, the default) and ``qianshu.storage.s3`` (any
S3-compatible object store); ``qianshu.storage.blobs.get_blob_store()`` returns the configured one.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import io
import re
from typing import Any, BinaryIO, Protocol

from qianshu.storage.errors import BlobCorrupted, BlobStoreError, InvalidBlobId

__all__ = [
    "BlobStore",
    "VerifyingReader",
    "blob_id",
    "fan_out",
    "validate_blob_id",
    "verify_content",
    "verifying_stream",
]


_BLOB_ID_RE = re.compile(r"[0-9a-f]{64}")
_STREAM_CHUNK = 1024 * 1024


def validate_blob_id(sha256: object) -> str:
    """Return ``sha256`` if it is a lowercase SHA-256 hex digest, else raise ``InvalidBlobId``.

    Blob ids become file names and object keys: this strict check is what rules out path
    traversal (``../``), separators, uppercase duplicates and trailing newlines.
    """
    if not isinstance(sha256, str) or _BLOB_ID_RE.fullmatch(sha256) is None:
        raise InvalidBlobId(f"not a lowercase SHA-256 hex digest: {sha256!r:.80}")
    return sha256


def blob_id(data: bytes) -> str:
    """The id ``put`` gives ``data``: its lowercase SHA-256 hex digest."""
    return hashlib.sha256(data).hexdigest()


def fan_out(sha256: str) -> str:
    """Relative path of a blob in both backends: ``ab/cd/abcd…`` (keeps directories small)."""
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def verify_content(sha256: str, data: bytes) -> bytes:
    """Return ``data`` if it hashes to ``sha256``, else raise ``BlobCorrupted``."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise BlobCorrupted(sha256, actual)
    return data


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...

    def close(self) -> None: ...


class VerifyingReader(io.RawIOBase):
    """Read-only stream over a blob that checks the SHA-256 when the end is reached.

    Reaching the end of a stream whose bytes do not match the id raises ``BlobCorrupted``
    (the bytes read before it have already been handed out: a download in progress is cut off
    rather than completed). ``wrap_errors`` lists backend exceptions turned into
    ``BlobStoreError`` while reading.
    """

    def __init__(
        self,
        raw: _Readable,
        sha256: str,
        *,
        wrap_errors: tuple[type[BaseException], ...] = (),
    ) -> None:
        super().__init__()
        self._raw = raw
        self._sha256 = sha256
        self._hash = hashlib.sha256()
        self._wrap_errors = wrap_errors
        self._verified = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._verified:
            return 0
        view = memoryview(buffer).cast("B")
        try:
            chunk = self._raw.read(len(view))
        except self._wrap_errors as exc:
            raise BlobStoreError(f"cannot read blob {self._sha256}: {exc}") from exc
        if not chunk:
            actual = self._hash.hexdigest()
            if actual != self._sha256:
                raise BlobCorrupted(self._sha256, actual)
            self._verified = True
            return 0
        self._hash.update(chunk)
        view[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(*self._wrap_errors):
                self._raw.close()
        super().close()


def verifying_stream(
    raw: _Readable, sha256: str, *, wrap_errors: tuple[type[BaseException], ...] = ()
) -> BinaryIO:
    """A buffered binary file object over ``raw`` that verifies ``sha256`` at the end."""
    return io.BufferedReader(
        VerifyingReader(raw, sha256, wrap_errors=wrap_errors), buffer_size=_STREAM_CHUNK
    )


class BlobStore(abc.ABC):
    """Content-addressed, immutable blob store.

    Every method taking a blob id raises ``InvalidBlobId`` for anything but 64 lowercase hex
    characters; all errors are ``BlobStoreError`` subclasses. Stored blobs are immutable;
    ``delete`` exists only for blobs that no row refers to any more.
    """

    @abc.abstractmethod
    def put(self, data: bytes) -> str:
        """Store ``data`` and return its id (lowercase SHA-256 hex).

        Idempotent: if the blob is already stored, nothing is written. Never overwrites.
        """

    @abc.abstractmethod
    def get(self, sha256: str) -> bytes:
        """The blob's bytes; ``BlobNotFound`` if missing, ``BlobCorrupted`` if they do not
        hash to ``sha256``."""

    @abc.abstractmethod
    def exists(self, sha256: str) -> bool:
        """Whether the blob is stored (its content is not checked)."""

    @abc.abstractmethod
    def size(self, sha256: str) -> int:
        """The stored size in bytes (content not checked); ``BlobNotFound`` if missing."""

    @abc.abstractmethod
    def delete(self, sha256: str) -> None:
        """Remove a blob (nothing if it is not stored).

        Only for a blob no ``Blob`` row names any more (``storage.actions.do_delete_blob``
        checks that): content addressing means every row with this id would lose its bytes.
        """

    @abc.abstractmethod
    def open_stream(self, sha256: str) -> BinaryIO:
        """A binary file object for streaming a large blob without loading it in memory.

        The content is verified when the stream is read to its end (``BlobCorrupted`` then);
        ``BlobNotFound`` is raised here if the blob is missing. Close it after use.
        """

    def _put_data(self, data: bytes) -> tuple[str, bytes]:
        if not isinstance(data, bytes):
            raise TypeError(f"blob data must be bytes, not {type(data).__name__}")
        digest = hashlib.sha256(data).digest()
        return digest.hex(), digest
