"""The local blob store: read-only files in a directory (the default backend)."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

from qianshu.storage.base import (
    BlobStore,
    fan_out,
    validate_blob_id,
    verify_content,
    verifying_stream,
)
from qianshu.storage.errors import BlobNotFound, BlobStoreError

__all__ = ["LocalBlobStore"]


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
