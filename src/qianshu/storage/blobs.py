"""Content-addressed, immutable blob store.

A blob is identified by the lowercase hex SHA-256 of its bytes. Blobs are written once and never
changed; the only deletion is of a blob nothing refers to any more (``delete``, used when a
plaintext blob is replaced by its encrypted copy), and every full read checks the bytes against the
id, so damage or tampering at rest is detected.

Two backends: ``LocalBlobStore`` (a directory, the default) and ``S3BlobStore`` (any S3-compatible
object store, in ``qianshu.storage.s3``). ``get_blob_store()`` returns the configured one.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import functools
import hashlib
import io
import os
import re
import stat
import tempfile
from collections.abc import Hashable
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from qianshu.storage.errors import BlobCorrupted, BlobNotFound, BlobStoreError, InvalidBlobId

__all__ = [
    "BlobCorrupted",
    "BlobNotFound",
    "BlobStore",
    "BlobStoreError",
    "InvalidBlobId",
    "LocalBlobStore",
    "blob_id",
    "get_blob_store",
    "reset_blob_store_cache",
    "validate_blob_id",
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


class LocalBlobStore(BlobStore):
    """Blobs as read-only files ``root/ab/cd/<sha256>``, readable by their owner only.

    Files are mode 0400 and the directories this store creates 0700, set explicitly whatever the
    process umask: the store holds identity photos and contracts, which no other local account
    may read (0400 rather than 0600: nothing ever writes a blob in place).

    A put writes a temporary file in the blob's directory, fsyncs it, then publishes it with a
    hard link, which fails if the blob appeared meanwhile: a crash never leaves a partial blob
    under its final name, and concurrent puts (threads or processes) never overwrite each other.
    On file systems without hard links it falls back to ``os.replace`` (atomic, and a racing
    writer can only replace the file with identical bytes).
    """

    file_mode = 0o400
    dir_mode = 0o700

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def path(self, sha256: str) -> Path:
        """Where the blob lives (whether or not it is stored)."""
        return self.root / fan_out(validate_blob_id(sha256))

    def put(self, data: bytes) -> str:
        sha256, _digest = self._put_data(data)
        path = self.path(sha256)
        if path.exists():
            return sha256
        try:
            self._make_dirs(path.parent)
            fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as tmp:
                    tmp.write(data)
                    tmp.flush()
                    os.fchmod(tmp.fileno(), self.file_mode)
                    os.fsync(tmp.fileno())
                _publish(tmp_name, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp_name)
            _fsync_dir(path.parent)
        except OSError as exc:
            raise BlobStoreError(f"cannot store blob {sha256} in {self.root}: {exc}") from exc
        return sha256

    def get(self, sha256: str) -> bytes:
        path = self.path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None
        except OSError as exc:
            raise BlobStoreError(f"cannot read blob {sha256}: {exc}") from exc
        return verify_content(sha256, data)

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def size(self, sha256: str) -> int:
        path = self.path(sha256)
        try:
            return path.stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None
        except OSError as exc:
            raise BlobStoreError(f"cannot stat blob {sha256}: {exc}") from exc

    def delete(self, sha256: str) -> None:
        path = self.path(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise BlobStoreError(f"cannot delete blob {sha256}: {exc}") from exc
        _fsync_dir(path.parent)

    def open_stream(self, sha256: str) -> BinaryIO:
        path = self.path(sha256)
        try:
            raw = open(path, "rb", buffering=0)  # closed by the returned stream
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None
        except OSError as exc:
            raise BlobStoreError(f"cannot open blob {sha256}: {exc}") from exc
        return verifying_stream(raw, sha256, wrap_errors=(OSError,))

    def _make_dirs(self, directory: Path) -> None:
        if not self.root.is_dir():
            self.root.mkdir(parents=True, exist_ok=True)
            os.chmod(self.root, self.dir_mode)
        # Fan-out directories: fsync the parent of each one created, so that the blob's
        # directory entry survives a crash along with the blob itself.
        for path in (directory.parent, directory):
            try:
                path.mkdir(mode=self.dir_mode)
            except FileExistsError:
                continue
            os.chmod(path, self.dir_mode)  # mkdir's mode is filtered by the umask
            _fsync_dir(path.parent)

    def restrict_permissions(self) -> int:
        """Give every blob file mode 0400 and every directory 0700 (stores written by older
        versions had world-readable files); return how many entries were changed."""
        changed = 0
        if not self.root.is_dir():
            return 0
        for path in [self.root, *self.root.rglob("*")]:
            mode = self.dir_mode if path.is_dir() else self.file_mode
            if stat.S_IMODE(path.lstat().st_mode) != mode and not path.is_symlink():
                os.chmod(path, mode)
                changed += 1
        return changed


# errno values meaning "this file system cannot make hard links".
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK}


def _publish(tmp_name: str, path: Path) -> None:
    try:
        os.link(tmp_name, path)
    except FileExistsError:
        pass  # Another writer published the same bytes first; theirs was complete and fsynced.
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        os.replace(tmp_name, path)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- Configured store -----------------------------------------------------------------------

_SETTING_NAMES = frozenset({"QIANSHU_STORAGE", "QIANSHU_STORAGE_DIR", "QIANSHU_S3"})


def get_blob_store() -> BlobStore:
    """The blob store configured by ``QIANSHU_STORAGE`` (``local`` or ``s3``).

    Instances are cached per configuration value, so overriding settings in tests gives a
    store built from the overridden values.
    """
    kind = settings.QIANSHU_STORAGE
    if kind == "local":
        return _local_store(Path(settings.QIANSHU_STORAGE_DIR))
    if kind == "s3":
        return _s3_store(_freeze(settings.QIANSHU_S3))
    raise ImproperlyConfigured(f"QIANSHU_STORAGE must be 'local' or 's3', not {kind!r}")


def reset_blob_store_cache() -> None:
    """Forget the cached stores (done automatically when a storage setting is overridden)."""
    _local_store.cache_clear()
    _s3_store.cache_clear()


@receiver(setting_changed, dispatch_uid="qianshu.storage.reset_blob_store_cache")
def _on_setting_changed(*, setting: str, **kwargs: object) -> None:
    if setting in _SETTING_NAMES:
        reset_blob_store_cache()


@functools.cache
def _local_store(root: Path) -> LocalBlobStore:
    return LocalBlobStore(root)


@functools.cache
def _s3_store(config: tuple[tuple[str, Hashable], ...]) -> BlobStore:
    from qianshu.storage.s3 import S3BlobStore

    options = dict(config)
    if not options.get("bucket_name"):
        raise ImproperlyConfigured("QIANSHU_STORAGE is 's3' but QIANSHU_S3_BUCKET is not set")
    try:
        return S3BlobStore(**options)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ImproperlyConfigured(f"invalid QIANSHU_S3 setting: {exc}") from exc


def _freeze(options: dict[str, Any]) -> tuple[tuple[str, Hashable], ...]:
    return tuple(sorted(options.items()))
