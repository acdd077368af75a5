from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from qianshu.pki.models import IssuedCertificate, PlatformKey, RootRevocationList


@admin.register(PlatformKey)
class PlatformKeyAdmin(admin.ModelAdmin):
    list_display = ("role", "created_at")
    exclude = ("wrapped_key",)
    readonly_fields = ("role", "certificate_der", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(IssuedCertificate)
class IssuedCertificateAdmin(admin.ModelAdmin):
    list_display = ("subject", "kind", "serial_hex", "not_after", "revoked_at")
    list_filter = ("kind", "issuer_role")
    search_fields = ("subject", "serial_hex")
    readonly_fields = [f.name for f in IssuedCertificate._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RootRevocationList)
class RootRevocationListAdmin(admin.ModelAdmin):
    list_display = ("crl_number", "this_update", "next_update", "created_at")
    readonly_fields = ("crl_number", "crl_der", "this_update", "next_update", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
