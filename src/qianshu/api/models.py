"""API keys of organisations, the log of every call, and stored answers for idempotency.

A key is ``qsk_<prefix>_<secret>``: the prefix (public, shown in lists and logs) finds the
row, the secret is compared as a SHA-256 digest (the key is 256 random bits, so a fast hash
is enough; the plain key is shown once and never stored).
"""

from __future__ import annotations

import uuid as uuid_lib

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from qianshu.accounts.models import User
from qianshu.orgs.models import Organization


class Scope(models.TextChoices):
    ENVELOPES_READ = "envelopes:read", pgettext_lazy("api scope", "查询签署任务和下载文件")
    ENVELOPES_WRITE = "envelopes:write", pgettext_lazy("api scope", "上传文件、发起和管理签署任务")
    SEALS_READ = "seals:read", pgettext_lazy("api scope", "查询组织印章")
    WEBHOOKS = "webhooks", pgettext_lazy("api scope", "管理 Webhook")
    VERIFY = "verify", pgettext_lazy("api scope", "文档验证")


class ApiKey(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("名称"), max_length=64)
    prefix = models.CharField(max_length=16, unique=True)
    secret_sha256 = models.CharField(max_length=64)
    scopes = models.JSONField(_("权限范围"), default=list)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("API 密钥")
        verbose_name_plural = _("API 密钥")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} (qsk_{self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        return self.is_active and scope in self.scopes


class ApiCall(models.Model):
    """One call with a key: who, what, the answer's status, how long it took."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="calls")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    status = models.PositiveSmallIntegerField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["key", "-created_at"], name="api_call_key")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"


class IdempotentRequest(models.Model):
    """A POST with an ``Idempotency-Key``: its fingerprint and, once answered, the answer."""

    scope = models.CharField(max_length=64)  # SHA-256 of the credential: keys never collide
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # method, path and body
    status = models.PositiveSmallIntegerField(null=True, blank=True)  # None: in progress
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="api_idempotency_key")]

    def __str__(self) -> str:
        return self.key


class Upload(models.Model):
    """A PDF uploaded with ``POST /documents`` (checked and normalised like a web upload),
    waiting to be used by ``POST /envelopes`` of the same organisation."""

    uuid = models.UUIDField(default=uuid_lib.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, related_name="+")
    name = models.CharField(max_length=200)
    blob = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, related_name="+")
    pages = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name
