"""stored_alongside: a transaction's blobs written on a thread while it goes on, and durable
before it can commit — an attacker or a failing store never gets a committed row naming a
missing blob."""

from __future__ import annotations

import hashlib
import os
import select
import signal
import threading
import time
from typing import Any

import pytest
from django.db import transaction

from qianshu.storage import actions
from qianshu.storage.actions import do_store_blob, stored_alongside
from qianshu.storage.blobs import get_blob_store
from qianshu.storage.errors import BlobStoreError
from qianshu.storage.models import Blob

pytestmark = pytest.mark.django_db


def _slowed(monkeypatch: pytest.MonkeyPatch, seconds: float) -> list[str]:
    """The configured store's puts take ``seconds`` more; returns the threads that ran them."""
    store = get_blob_store()
    put = store.put
    threads: list[str] = []

    def slow(data: bytes) -> str:
        threads.append(threading.current_thread().name)
        time.sleep(seconds)
        return put(data)

    monkeypatch.setattr(store, "put", slow)
    return threads


def test_the_row_comes_at_once_and_the_blob_is_stored_when_the_block_ends(
    configured_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = get_blob_store()
    put = store.put
    release = threading.Event()
    writes: list[tuple[str, bool]] = []  # (the thread, whether the test released it)
    mine = threading.current_thread().name

    def held(data: bytes) -> str:
        released = release.wait(10) if threading.current_thread().name != mine else True
        writes.append((threading.current_thread().name, released))
        return put(data)

    monkeypatch.setattr(store, "put", held)
    data = b"%PDF-1.7 signed revision"
    with transaction.atomic():
        with stored_alongside():
            blob = do_store_blob(data, content_type="application/pdf")
            # Returned with the write still held back: the row is there, the bytes not yet.
            assert not store.exists(blob.sha256) and not writes
            assert blob.sha256 == hashlib.sha256(data).hexdigest()
            assert Blob.objects.filter(sha256=blob.sha256).exists()
            release.set()
        # The block's end waited for the write: the bytes are there before any commit.
        assert store.get(blob.sha256) == data
    assert writes == [(writes[0][0], True)] and writes[0][0] != mine
    # Outside a block, a put is made before the row, in this thread.
    do_store_blob(b"other bytes", content_type="application/pdf")
    assert writes[-1] == (mine, True)


def test_a_failing_store_raises_at_the_end_and_the_transaction_keeps_nothing(
    configured_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(data: bytes) -> str:
        raise BlobStoreError("the disk is full")

    monkeypatch.setattr(get_blob_store(), "put", broken)
    with pytest.raises(BlobStoreError, match="the disk is full"):
        with transaction.atomic(), stored_alongside():
            do_store_blob(b"never stored", content_type="application/pdf")
            assert Blob.objects.exists()  # the row, until the rollback
    assert not Blob.objects.exists()


def test_a_store_naming_other_bytes_is_refused(
    configured_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store (or a hostile proxy in front of S3) that answers with another blob's name."""
    monkeypatch.setattr(get_blob_store(), "put", lambda data: "0" * 64)
    with pytest.raises(BlobStoreError):
        with transaction.atomic(), stored_alongside():
            do_store_blob(b"these bytes", content_type="application/pdf")
    assert not Blob.objects.exists()


def test_the_blocks_own_error_goes_on_after_its_writes_end(
    configured_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _slowed(monkeypatch, 0.2)
    done: list[Any] = []
    with pytest.raises(ZeroDivisionError):
        with transaction.atomic(), stored_alongside():
            blob = do_store_blob(b"written, then unreferenced", content_type="application/pdf")
            done.append(blob.sha256)
            1 / 0  # noqa: B018
    # Waited for: no write is left running once the block is gone (the bytes remain, as
    # after any failure between a put and its commit).
    assert get_blob_store().exists(done[0])
    assert not Blob.objects.exists()


def test_blocks_inside_blocks_join_and_a_forked_child_gets_its_own_writers(
    configured_store: str,
) -> None:
    with transaction.atomic(), stored_alongside():
        with stored_alongside():
            inner = do_store_blob(b"inner", content_type="application/pdf")
        outer = do_store_blob(b"outer", content_type="application/pdf")
    assert get_blob_store().get(inner.sha256) == b"inner"
    assert get_blob_store().get(outer.sha256) == b"outer"
    pool = actions._writer()
    assert actions._writer() is pool
    # A child forked while a thread of the parent holds the writers' lock (a batch's forked
    # signers, beside a web process's other request threads) starts with its own, free.
    read, write = os.pipe()
    ready: list[int] = []
    with actions._pool_lock:
        child = os.fork()
        if child == 0:  # pragma: no cover - the child reports through the pipe
            ok = actions._pool is None and actions._writer() is not pool
            ok = ok and actions._writer().submit(lambda: 7).result(timeout=5) == 7
            os.write(write, b"1" if ok else b"0")
            os._exit(0)
    os.close(write)
    try:
        # A child stuck on the inherited lock answers nothing: killed, and the test fails.
        ready, _, _ = select.select([read], [], [], 20)
        assert ready and os.read(read, 1) == b"1"
    finally:
        os.close(read)
        if not ready:
            os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
