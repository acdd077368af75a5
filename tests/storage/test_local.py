"""LocalBlobStore specifics: layout, permissions, crash-safe publishing, several processes."""

from __future__ import annotations

import errno
import hashlib
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from qianshu.storage import local
from qianshu.storage.errors import BlobStoreError
from qianshu.storage.local import LocalBlobStore


def test_layout_and_read_only_file(local_store: LocalBlobStore) -> None:
    sha256 = local_store.put(b"layout")

    path = local_store.root / sha256[:2] / sha256[2:4] / sha256
    assert local_store.path(sha256) == path
    assert path.read_bytes() == b"layout"
    assert stat.S_IMODE(path.stat().st_mode) == 0o400
    assert [p.name for p in path.parent.iterdir()] == [sha256]


def test_second_put_keeps_the_same_file(local_store: LocalBlobStore) -> None:
    sha256 = local_store.put(b"once")
    before = local_store.path(sha256).stat()

    local_store.put(b"once")

    after = local_store.path(sha256).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_root_is_created(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "a" / "b" / "blobs")

    sha256 = store.put(b"x")

    assert store.get(sha256) == b"x"


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    root.write_bytes(b"a file where the store's directory should be")
    store = LocalBlobStore(root)

    with pytest.raises(BlobStoreError):
        store.put(b"data")
    assert root.read_bytes().startswith(b"a file")


def test_falls_back_to_replace_without_hard_links(
    local_store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: str, dst: object) -> None:
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(local.os, "link", no_links)

    sha256 = local_store.put(b"no hard links here")

    assert local_store.get(sha256) == b"no hard links here"
    assert os.listdir(local_store.path(sha256).parent) == [sha256]


def _put_in_process(root: str, data: bytes, start: multiprocessing.synchronize.Event) -> None:
    start.wait(30)
    LocalBlobStore(Path(root)).put(data)


def test_concurrent_puts_from_processes(local_store: LocalBlobStore) -> None:
    data = os.urandom(4 * 1024 * 1024)
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    processes = [
        context.Process(target=_put_in_process, args=(str(local_store.root), data, start))
        for _ in range(3)
    ]
    for process in processes:
        process.start()
    start.set()
    for process in processes:
        process.join(60)

    assert [process.exitcode for process in processes] == [0, 0, 0]
    sha256 = hashlib.sha256(data).hexdigest()
    assert local_store.get(sha256) == data
    assert os.listdir(local_store.path(sha256).parent) == [sha256]
