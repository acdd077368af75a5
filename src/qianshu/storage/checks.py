"""System checks for the blob store configuration (``qianshu check``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

STORAGE_KINDS = ("local", "s3")


@register()
def check_blob_store(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    kind = settings.QIANSHU_STORAGE
    if kind not in STORAGE_KINDS:
        return [
            Error(
                f"QIANSHU_STORAGE is {kind!r}.",
                hint="Set QIANSHU_STORAGE to 'local' or 's3'.",
                id="qianshu.storage.E001",
            )
        ]
    if kind == "s3" and not settings.QIANSHU_S3.get("bucket_name"):
        return [
            Error(
                "QIANSHU_STORAGE is 's3' but no bucket is configured.",
                hint="Set QIANSHU_S3_BUCKET (and QIANSHU_S3_ENDPOINT_URL for MinIO and others).",
                id="qianshu.storage.E002",
            )
        ]
    return []
