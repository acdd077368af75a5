"""Blob store exceptions: everything a blob store raises is a ``BlobStoreError``."""

from __future__ import annotations


class BlobStoreError(Exception):
    """A blob could not be stored or read (I/O error, object store unreachable, …)."""


class InvalidBlobId(BlobStoreError, ValueError):
    """The blob id is not a lowercase SHA-256 hex digest (64 characters of ``0-9a-f``)."""


class BlobNotFound(BlobStoreError):
    """No blob with this id is stored."""

    def __init__(self, sha256: str) -> None:
        super().__init__(f"blob {sha256} not found")
        self.sha256 = sha256


class BlobCorrupted(BlobStoreError):
    """The stored bytes do not hash to the blob id: the blob was altered or damaged at rest."""

    def __init__(self, sha256: str, actual: str) -> None:
        super().__init__(f"blob {sha256} is corrupted: its content hashes to {actual}")
        self.sha256 = sha256
        self.actual = actual


class BlobDecryptionError(BlobStoreError):
    """An encrypted blob does not decrypt: another master key, or the blob or its row altered."""
