"""State changes of the storage app."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connections, models, router, transaction

from qianshu.storage import encryption
from qianshu.storage.blobs import get_blob_store
from qianshu.storage.errors import BlobStoreError
from qianshu.storage.models import Blob

MAX_CONTENT_TYPE_LENGTH = 255


def _check_content_type(content_type: str) -> None:
    if not content_type or len(content_type) > MAX_CONTENT_TYPE_LENGTH:
        raise ValueError(f"content_type must be 1 to {MAX_CONTENT_TYPE_LENGTH} characters")


def do_store_blob(data: bytes, *, content_type: str) -> Blob:
    """Store ``data`` in the configured blob store and return its ``Blob`` row.

    The bytes go to the store first and the row is written after, so a row never names a missing
    blob (a failure in between leaves only an unreferenced blob, for garbage collection).
    Idempotent: storing the same bytes again returns the existing row unchanged, including the
    content type it was first stored with. Raises ``BlobStoreError`` if the store fails.
    """
    _check_content_type(content_type)
    puts = _alongside.get()
    if puts is None:
        sha256 = get_blob_store().put(data)
    else:
        sha256 = hashlib.sha256(data).hexdigest()
        puts.append((sha256, _writer().submit(get_blob_store().put, data)))
    blob = Blob(sha256=sha256, size=len(data), content_type=content_type)
    if _insert_if_new(blob):
        return blob
    return Blob.objects.get(sha256=sha256)  # stored before: its row as it is


# The puts started inside stored_alongside() in this context: (SHA-256, the put's future).
_alongside: ContextVar[list[tuple[str, Future[str]]] | None] = ContextVar(
    "qianshu_blobs_alongside", default=None
)
# The threads that write the blobs of stored_alongside() blocks: a few, so that the request
# threads of one web process do not queue behind each other's writes (an upload to S3 takes
# tens of milliseconds). Made on first use; a forked child starts without them (the parent's
# threads are not in it, and a lock a parent thread held at the fork would never be released).
_WRITERS = 4
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _writer() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_WRITERS, thread_name_prefix="qianshu-blobs")
        return _pool


def _forked() -> None:
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forked)


@contextmanager
def stored_alongside() -> Iterator[None]:
    """Inside the block — in a transaction, which must commit only after it ends — the bytes
    :func:`do_store_blob` stores are written and made durable on other threads while the caller
    goes on: the row is inserted at once, and the block's end waits for every write, raising
    the store's error (``BlobStoreError``) if one failed, so that the transaction rolls back.
    A row thus never names a missing blob once committed, which is the only time another
    transaction can see it; a signing step's fsyncs (or upload) overlap its statements instead
    of preceding them. When the block raises, its writes are waited for and the exception
    goes on (a write that completed leaves an unreferenced blob, as any failure between a put
    and its commit does). A block inside another joins it."""
    if _alongside.get() is not None:
        yield
        return
    puts: list[tuple[str, Future[str]]] = []
    token = _alongside.set(puts)
    try:
        yield
    except BaseException:
        for _sha256, future in puts:
            future.exception()  # waited for; the block's own exception is the one raised
        raise
    finally:
        _alongside.reset(token)
    for sha256, future in puts:
        stored = future.result()  # the store's error, raised here
        if stored != sha256:
            raise BlobStoreError(f"the store named blob {sha256} {stored}")


def _insert_if_new(blob: Blob) -> bool:
    """INSERT the row unless one with its SHA-256 exists; whether it was inserted. One
    statement, no savepoint (a signing step stores a new blob per document inside its
    transaction): a writer that inserted the same bytes at the same moment keeps its row."""
    connection = connections[router.db_for_write(Blob)]
    quote = connection.ops.quote_name
    fields = list(Blob._meta.concrete_fields)
    pk = Blob._meta.pk
    assert pk is not None
    values = [f.get_db_prep_save(getattr(blob, f.attname), connection) for f in fields]
    # Only the model's own table and column names are formatted in; the values are parameters.
    sql = "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING RETURNING {}".format(  # noqa: S608
        quote(Blob._meta.db_table),
        ", ".join(quote(str(f.column)) for f in fields),
        ", ".join(["%s"] * len(fields)),
        quote(str(pk.column)),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        inserted = cursor.fetchone() is not None
    if inserted:  # a saved row, as save() leaves it (a many-to-many add checks its database)
        blob._state.adding = False
        blob._state.db = connection.alias
    return inserted


def do_put_blob_ahead(data: bytes) -> str:
    """Store ``data``'s bytes before the transaction that will name them, and return their
    SHA-256: the later :func:`do_store_blob` of the same bytes finds them stored and writes the
    row only (the durable write — fsyncs, or an upload — then happens outside that
    transaction's locks). If the transaction never comes, the bytes stay unreferenced, as after
    any failure between a put and its row. Raises ``BlobStoreError`` if the store fails."""
    return get_blob_store().put(data)


def do_store_encrypted_blob(data: bytes, *, content_type: str, purpose: str) -> Blob:
    """Store ``data`` encrypted at rest (see ``storage.encryption``) as a new blob of its own.

    The random nonce makes every call a new ciphertext, hence a new blob: encrypted blobs are
    never shared between rows, and ``Blob.read()`` gives back ``data``.
    """
    _check_content_type(content_type)
    sealed = encryption.encrypt(data, purpose=purpose, content_type=content_type)
    sha256 = get_blob_store().put(sealed)
    with transaction.atomic():
        blob, _created = Blob.objects.get_or_create(
            sha256=sha256,
            defaults={
                "size": len(sealed),
                "content_type": content_type,
                "encryption_purpose": purpose,
            },
        )
    return blob


def blob_references(sha256: str) -> int:
    """How many rows name the blob through a foreign key (every model, every field)."""
    count = 0
    for relation in Blob._meta.get_fields(include_hidden=True):
        if not (relation.one_to_many or relation.one_to_one) or not relation.auto_created:
            continue
        assert isinstance(relation, models.ForeignObjectRel)
        field = relation.field
        count += field.model._default_manager.filter(**{field.name: sha256}).count()
    return count


def do_delete_blob(sha256: str) -> bool:
    """Delete a blob and its row if no row refers to it any more; say whether it was deleted.

    The row goes first, in a transaction that re-checks the references (every foreign key to
    ``Blob`` is PROTECT, so a reference added meanwhile makes the delete fail rather than
    dangle); the stored bytes are removed after the commit.
    """
    with transaction.atomic():
        blob = Blob.objects.select_for_update().filter(sha256=sha256).first()
        if blob is None or blob_references(sha256):
            return False
        blob.delete()
    get_blob_store().delete(sha256)
    return True
