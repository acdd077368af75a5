"""State changes of the storage app."""

from __future__ import annotations

from django.db import transaction

from qianshu.storage.blobs import get_blob_store
from qianshu.storage.models import Blob

MAX_CONTENT_TYPE_LENGTH = 255


def do_store_blob(data: bytes, *, content_type: str) -> Blob:
    """Store ``data`` in the configured blob store and return its ``Blob`` row.

    The bytes go to the store first and the row is written after, so a row never names a missing
    blob (a failure in between leaves only an unreferenced blob, for garbage collection).
    Idempotent: storing the same bytes again returns the existing row unchanged, including the
    content type it was first stored with. Raises ``BlobStoreError`` if the store fails.
    """
    if not content_type or len(content_type) > MAX_CONTENT_TYPE_LENGTH:
        raise ValueError(f"content_type must be 1 to {MAX_CONTENT_TYPE_LENGTH} characters")
    sha256 = get_blob_store().put(data)
    with transaction.atomic():
        blob, _created = Blob.objects.get_or_create(
            sha256=sha256, defaults={"size": len(data), "content_type": content_type}
        )
    return blob
