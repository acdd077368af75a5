"""Blob rows: which content-addressed blobs the platform holds, and what they are."""

from __future__ import annotations

from typing import BinaryIO

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qianshu.storage.blobs import get_blob_store

sha256_validator = RegexValidator(r"\A[0-9a-f]{64}\Z", _("Not a lowercase SHA-256 hex digest."))


class Blob(models.Model):
    """A blob in the blob store. The row is written after the blob, so it never dangles."""

    sha256 = models.CharField(
        _("SHA-256"), max_length=64, primary_key=True, validators=[sha256_validator]
    )
    size = models.BigIntegerField(_("size (bytes)"))
    content_type = models.CharField(_("content type"), max_length=255)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("blob")
        verbose_name_plural = _("blobs")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(size__gte=0), name="storage_blob_size_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.sha256[:16]}… ({self.content_type}, {self.size} B)"

    def read(self) -> bytes:
        """The blob's bytes, verified against its hash."""
        return get_blob_store().get(self.sha256)

    def open_stream(self) -> BinaryIO:
        """A stream over the blob's bytes, verified when read to the end."""
        return get_blob_store().open_stream(self.sha256)
