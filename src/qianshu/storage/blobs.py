"""The configured blob store: ``get_blob_store()`` (``QIANSHU_STORAGE``: ``local`` or ``s3``).

The interface is ``qianshu.storage.base.BlobStore``; the backends live in
``qianshu.storage.local`` and ``qianshu.storage.s3`` (imported only when configured).
"""

from __future__ import annotations

import functools
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from qianshu.storage.base import BlobStore
from qianshu.storage.local import LocalBlobStore

__all__ = ["get_blob_store", "reset_blob_store_cache"]


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
