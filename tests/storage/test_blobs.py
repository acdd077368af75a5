"""Blob store behaviour, run against both backends (local directory and a real S3 server)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from qianshu.storage.base import BlobStore, validate_blob_id
from qianshu.storage.errors import BlobCorrupted, BlobNotFound, BlobStoreError, InvalidBlobId
from tests.storage.conftest import Backend

MISSING = hashlib.sha256(b"never stored").hexdigest()
INVALID_IDS = [
    "../../etc/passwd",
    "../" * 21 + "x",
    "/etc/passwd",
    MISSING.upper(),
    MISSING[:63],
    MISSING + "0",
    MISSING + "\n",
    MISSING[:62] + "/x",
    "g" * 64,
    "",
]


def read_all(store: BlobStore, sha256: str, chunk: int = 64 * 1024) -> bytes:
    parts = []
    with store.open_stream(sha256) as stream:
        while part := stream.read(chunk):
            parts.append(part)
    return b"".join(parts)


def test_put_get_round_trip(backend: Backend) -> None:
    store = backend.store
    data = b"%PDF-1.7\n" + os.urandom(4096)

    sha256 = store.put(data)

    assert sha256 == hashlib.sha256(data).hexdigest()
    assert store.get(sha256) == data
    assert store.exists(sha256)
    assert store.size(sha256) == len(data)
    assert read_all(store, sha256) == data


def test_empty_blob(backend: Backend) -> None:
    sha256 = backend.store.put(b"")

    assert sha256 == hashlib.sha256(b"").hexdigest()
    assert backend.store.get(sha256) == b""
    assert backend.store.size(sha256) == 0
    assert read_all(backend.store, sha256) == b""


def test_put_is_idempotent(backend: Backend) -> None:
    store = backend.store
    data = b"same bytes"

    first = store.put(data)
    names = backend.stored_names()
    second = store.put(data)

    assert first == second
    assert backend.stored_names() == names
    assert len(names) == 1
    assert store.get(first) == data


def test_put_never_rewrites_a_stored_blob(backend: Backend) -> None:
    """A blob already present is left as it is: put only checks existence."""
    store = backend.store
    data = b"original"
    sha256 = store.put(data)
    backend.corrupt(sha256, b"damaged at rest")

    assert store.put(data) == sha256

    with pytest.raises(BlobCorrupted):
        store.get(sha256)


def test_different_blobs_are_stored_apart(backend: Backend) -> None:
    store = backend.store
    ids = [store.put(f"blob {i}".encode()) for i in range(5)]

    assert len(set(ids)) == 5
    assert [store.get(sha256) for sha256 in ids] == [f"blob {i}".encode() for i in range(5)]
    assert len(backend.stored_names()) == 5


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: b"X" + data[1:], id="flipped-byte"),
        pytest.param(lambda data: data[:-1], id="truncated"),
        pytest.param(lambda data: data + b"\0", id="appended"),
        pytest.param(lambda data: b"", id="emptied"),
    ],
)
def test_get_detects_corruption(backend: Backend, damage: Callable[[bytes], bytes]) -> None:
    store = backend.store
    data = b"contract body " * 100
    sha256 = store.put(data)
    backend.corrupt(sha256, damage(data))

    with pytest.raises(BlobCorrupted) as excinfo:
        store.get(sha256)
    assert excinfo.value.sha256 == sha256
    assert excinfo.value.actual == hashlib.sha256(damage(data)).hexdigest()

    with pytest.raises(BlobCorrupted):
        read_all(store, sha256)
    assert store.exists(sha256)


def test_missing_blob(backend: Backend) -> None:
    store = backend.store

    assert not store.exists(MISSING)
    with pytest.raises(BlobNotFound) as excinfo:
        store.get(MISSING)
    assert excinfo.value.sha256 == MISSING
    with pytest.raises(BlobNotFound):
        store.size(MISSING)
    with pytest.raises(BlobNotFound):
        store.open_stream(MISSING)


@pytest.mark.parametrize("bad_id", INVALID_IDS)
def test_invalid_ids_are_refused(backend: Backend, bad_id: str) -> None:
    store = backend.store
    store.put(b"something")

    for method in (store.get, store.exists, store.size, store.open_stream):
        with pytest.raises(InvalidBlobId):
            method(bad_id)
    assert issubclass(InvalidBlobId, BlobStoreError)


@pytest.mark.parametrize("bad_id", [None, 123, b"0" * 64])
def test_non_string_ids_are_refused(bad_id: object) -> None:
    with pytest.raises(InvalidBlobId):
        validate_blob_id(bad_id)


def test_put_refuses_non_bytes(backend: Backend) -> None:
    with pytest.raises(TypeError):
        backend.store.put("text, not bytes")  # type: ignore[arg-type]
    assert backend.stored_names() == []


def test_concurrent_puts_of_the_same_blob(backend: Backend) -> None:
    store = backend.store
    data = os.urandom(1024 * 1024)
    workers = 8
    barrier = threading.Barrier(workers)

    def put() -> str:
        barrier.wait(timeout=30)
        return store.put(data)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda _: put(), range(workers)))

    sha256 = hashlib.sha256(data).hexdigest()
    assert results == [sha256] * workers
    assert store.get(sha256) == data
    # Exactly one stored file/object, and no temporary file left behind.
    assert len(backend.stored_names()) == 1


def test_large_blob(backend: Backend) -> None:
    store = backend.store
    data = os.urandom(20 * 1024 * 1024)

    sha256 = store.put(data)

    assert sha256 == hashlib.sha256(data).hexdigest()
    assert store.size(sha256) == len(data)
    assert store.get(sha256) == data
    assert hashlib.sha256(read_all(store, sha256, chunk=1024 * 1024)).hexdigest() == sha256


def test_stream_reads_in_pieces(backend: Backend) -> None:
    store = backend.store
    data = os.urandom(300_000)
    sha256 = store.put(data)

    with store.open_stream(sha256) as stream:
        head = stream.read(10)
        rest = stream.read()
        assert stream.read() == b""

    assert head + rest == data
