"""Blob rows: which content-addressed blobs the platform holds, and what they are."""

from __future__ import annotations

import io
from typing import BinaryIO

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qianshu.storage import encryption
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
    # Empty for a plaintext blob. Otherwise the blob is stored AES-GCM encrypted under a key
    # derived from the master key (``storage.encryption``), with this purpose and the content
    # type as associated data; ``size`` and ``sha256`` are those of the stored ciphertext.
    encryption_purpose = models.CharField(
        _("加密用途"), max_length=32, blank=True, default="", editable=False
    )

    class Meta:
        verbose_name = _("blob")
        verbose_name_plural = _("blobs")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(size__gte=0), name="storage_blob_size_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.sha256[:16]}… ({self.content_type}, {self.size} B)"

    @property
    def is_encrypted(self) -> bool:
        return bool(self.encryption_purpose)

    def read(self) -> bytes:
        """The blob's bytes, verified against its hash (decrypted if it is stored encrypted;
        ``BlobDecryptionError`` if that fails)."""
        data = get_blob_store().get(self.sha256)
        if self.is_encrypted:
            return encryption.decrypt(
                data, purpose=self.encryption_purpose, content_type=self.content_type
            )
        return data

    def open_stream(self) -> BinaryIO:
        """A stream over the blob's bytes, verified when read to the end. An encrypted blob
        (at most a few MB: photos, licences) is read, checked and decrypted first."""
        if self.is_encrypted:
            return io.BytesIO(self.read())
        return get_blob_store().open_stream(self.sha256)
