from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from qianshu.storage.models import Blob


@admin.register(Blob)
class BlobAdmin(admin.ModelAdmin[Blob]):
    """Read-only: blobs are immutable and only created by ``do_store_blob``."""

    list_display = ["sha256", "content_type", "encryption_purpose", "size", "created_at"]
    list_filter = ["content_type", "encryption_purpose"]
    search_fields = ["=sha256"]
    date_hierarchy = "created_at"
    readonly_fields = ["sha256", "size", "content_type", "encryption_purpose", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
