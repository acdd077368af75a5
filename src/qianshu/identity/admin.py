"""Read-only admin views: decisions go through the back office (audited actions)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from qianshu.identity.models import PersonIdentity, SigningCredential, VerificationAttempt


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(VerificationAttempt)
class VerificationAttemptAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "method", "provider", "number_masked", "status")
    list_filter = ("status", "method", "provider", "id_type")
    search_fields = ("user__phone", "name")
    exclude = ("number_encrypted", "number_hmac", "inputs_encrypted")


@admin.register(PersonIdentity)
class PersonIdentityAdmin(ReadOnlyAdmin):
    list_display = ("user", "name", "id_type", "number_masked", "method", "verified_at")
    list_filter = ("id_type", "method")
    search_fields = ("user__phone", "name")
    exclude = ("number_encrypted", "number_hmac")


@admin.register(SigningCredential)
class SigningCredentialAdmin(ReadOnlyAdmin):
    list_display = (
        "user",
        "subject_id",
        "certificate",
        "created_at",
        "replaced_at",
        "locked_until",
    )
    search_fields = ("user__phone", "subject_id")
    exclude = ("wrapped_key",)
