"""Templates (模板管理): a document with roles instead of people, and the fields of each role.

A :class:`Template` is personal (its owner's) or an organisation's (usable by the
organisation's administrators, its owner and the members it is shared with). Its content lives
in immutable :class:`TemplateVersion` rows: editing makes a new version, and an envelope made
from a template keeps the version it used (:class:`TemplateUse`). A version holds copies of
the documents (blobs), the roles in routing order and the fields of each role in PDF points,
as JSON snapshots (see :mod:`qianshu.doctemplates.snapshots` for their shape).
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Template(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("使用中")
        ARCHIVED = "archived", _("已归档")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("模板名称"), max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="doc_templates"
    )
    org = models.ForeignKey(
        "orgs.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="doc_templates",
    )
    shared_with = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="shared_doc_templates"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("模板")
        verbose_name_plural = _("模板")
        ordering: ClassVar[list[str]] = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    def latest(self) -> TemplateVersion | None:
        return self.versions.order_by("-number").first()


class TemplateVersion(models.Model):
    """One immutable version: what an envelope made from it gets."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(_("任务名称"), max_length=100)
    message = models.CharField(_("签署说明"), max_length=500, blank=True)
    scene = models.CharField(_("场景"), max_length=40, blank=True)
    deadline_days = models.PositiveSmallIntegerField(_("签署期限（天）"), null=True, blank=True)
    auto_remind = models.BooleanField(default=True)
    allow_sms_signing = models.BooleanField(default=True)
    roles = models.JSONField(default=list)
    fields = models.JSONField(default=list)
    # Filled by the sender from data when the template is used (see datafields.py).
    data_fields = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="template_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"


class TemplateDocument(models.Model):
    version = models.ForeignKey(TemplateVersion, on_delete=models.CASCADE, related_name="documents")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(_("文件名称"), max_length=200)
    blob = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, related_name="+")
    pages = models.PositiveIntegerField(default=1)

    class Meta:
        ordering: ClassVar[list[str]] = ["version", "position"]

    def __str__(self) -> str:
        return self.name


class TemplateUse(models.Model):
    """The template version an envelope was made from (kept when the template changes)."""

    envelope = models.OneToOneField(
        "envelopes.Envelope", on_delete=models.CASCADE, related_name="template_use"
    )
    # Indexed with the envelope (Meta), which the lists' 模板 search reads.
    version = models.ForeignKey(
        TemplateVersion, on_delete=models.PROTECT, related_name="uses", db_index=False
    )
    batch = models.ForeignKey(
        "Batch", null=True, blank=True, on_delete=models.SET_NULL, related_name="uses"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # A template's envelopes in order, from the index alone (the lists' 模板 search
            # joins them to a user's envelopes, or reads the first thousand).
            models.Index(fields=["version", "envelope"], name="tpl_use_version_env"),
        ]

    def __str__(self) -> str:
        return f"{self.envelope_id} ← {self.version}"


class Batch(models.Model):
    """批量发起: one uploaded spreadsheet of a template version, checked before anything is
    sent, then sent row by row in the background (a row's failure never stops the others)."""

    class Status(models.TextChoices):
        CHECKED = "checked", _("待发起")
        SENDING = "sending", _("发起中")
        DONE = "done", _("已完成")
        CANCELLED = "cancelled", _("已取消")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("批次号"), max_length=24, unique=True)
    version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT, related_name="batches")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    file_name = models.CharField(_("文件名称"), max_length=200)
    file_sha256 = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CHECKED)
    total = models.PositiveIntegerField(default=0)
    valid = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(_("导入时间"), default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.number


class BatchRow(models.Model):
    """One row of the spreadsheet: its values, its problems (from the check), and what sending
    it gave (the envelope, or the error)."""

    class Status(models.TextChoices):
        INVALID = "invalid", _("有误，未发起")
        PENDING = "pending", _("待发起")
        SENT = "sent", _("已发起")
        FAILED = "failed", _("发起失败")

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="rows")
    row_number = models.PositiveIntegerField()
    values = models.JSONField(default=dict)
    problems = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    envelope = models.ForeignKey(
        "envelopes.Envelope", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["batch", "row_number"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "row_number"], name="batch_row_number")
        ]
        indexes = [
            models.Index(fields=["batch", "status"]),
            # The next row to send (claimed in row order), found at once however many rows
            # of the batch were sent already.
            models.Index(
                fields=["batch", "row_number"],
                condition=models.Q(status="pending"),
                name="batchrow_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch} #{self.row_number}"
