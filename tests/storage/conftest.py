"""Blob store fixtures: every behaviour test runs against a local directory and a real S3 server.

The S3 server is moto in server mode, started as a subprocess on 127.0.0.1 for the session, so
requests go through boto3, HTTP and a real server, not an in-process mock.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from qianshu.storage.base import BlobStore
from qianshu.storage.local import LocalBlobStore
from qianshu.storage.s3 import S3BlobStore

SERVER_START_TIMEOUT = 20.0
BUCKET = "qianshu-test-blobs"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    bucket_name: str
    region_name: str = "us-east-1"
    access_key: str = "test-access-key"
    secret_key: str = "test-secret-key"

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region_name,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}),
        )

    def settings(self, location: str) -> dict[str, Any]:
        """A ``QIANSHU_S3`` value pointing at this server."""
        return {
            "bucket_name": self.bucket_name,
            "endpoint_url": self.endpoint_url,
            "region_name": self.region_name,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "location": location,
        }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    port = _free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = S3Server(endpoint_url=f"http://127.0.0.1:{port}", bucket_name=BUCKET)
    try:
        client = server.client()
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"moto server exited with {process.returncode}:\n{log_path.read_text()}"
                )
            try:
                client.list_buckets()
                break
            except Exception:
                if time.monotonic() > deadline:
                    pytest.fail(f"moto server did not answer within {SERVER_START_TIMEOUT} s")
                time.sleep(0.2)
        client.create_bucket(Bucket=BUCKET)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def s3_location() -> str:
    """A key prefix of its own for each test, so tests sharing the bucket never see each other."""
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def local_store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture
def s3_store(s3_server: S3Server, s3_location: str) -> S3BlobStore:
    return S3BlobStore(**s3_server.settings(s3_location))


Corrupt = Callable[[str, bytes], None]


@dataclass
class Backend:
    name: str
    store: BlobStore
    corrupt: Corrupt  # overwrite a stored blob's bytes behind the store's back
    stored_names: Callable[[], list[str]]  # every file / object the store holds, temp files too


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "local":
        local: LocalBlobStore = request.getfixturevalue("local_store")

        def corrupt_file(sha256: str, data: bytes) -> None:
            path = local.path(sha256)
            path.chmod(0o644)
            path.write_bytes(data)
            path.chmod(0o400)

        def local_names() -> list[str]:
            return sorted(
                str(p.relative_to(local.root)) for p in local.root.rglob("*") if p.is_file()
            )

        return Backend("local", local, corrupt_file, local_names)

    s3: S3BlobStore = request.getfixturevalue("s3_store")
    server: S3Server = request.getfixturevalue("s3_server")
    client = server.client()

    def corrupt_object(sha256: str, data: bytes) -> None:
        client.put_object(Bucket=s3.bucket_name, Key=s3.key(sha256), Body=data)

    def s3_names() -> list[str]:
        response = client.list_objects_v2(Bucket=s3.bucket_name, Prefix=s3.location + "/")
        return sorted(obj["Key"] for obj in response.get("Contents", []))

    return Backend("s3", s3, corrupt_object, s3_names)


@pytest.fixture(params=["local", "s3"])
def configured_store(request: pytest.FixtureRequest, settings: Any, tmp_path: Path) -> str:
    """The configured blob store (``get_blob_store()``) is a local directory, then S3."""
    settings.QIANSHU_STORAGE = request.param
    if request.param == "local":
        settings.QIANSHU_STORAGE_DIR = tmp_path / "blobs"
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        settings.QIANSHU_S3 = server.settings(request.getfixturevalue("s3_location"))
    return str(request.param)
